package vygoda.bench.kstreams;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;
import org.apache.avro.Schema;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Products in, the products no ban matches out: the same key and the same bytes (the filtered
 * topic carries the same record), so nothing is re-encoded. A tombstone passes as a tombstone.
 * A record that does not decode, or whose key is not its product_id, is logged and dropped
 * (the Rust filter dead-letters it; this reference has no dead-letter topic).
 */
final class ProductFilter implements Processor<byte[], byte[], byte[], byte[]> {
    private static final Logger LOG = LoggerFactory.getLogger(ProductFilter.class);

    /** What the filters of all tasks did, for the progress lines. */
    static final class Counts {
        final LongAdder passed = new LongAdder();
        final LongAdder banned = new LongAdder();
        final LongAdder tombstones = new LongAdder();
        final LongAdder rejected = new LongAdder();

        @Override
        public String toString() {
            return "passed=" + passed.sum() + " banned=" + banned.sum() + " tombstones="
                    + tombstones.sum() + " rejected=" + rejected.sum();
        }
    }

    private final BanList bans;
    private final Avro.Reader reader;
    private final Counts counts;
    private ProcessorContext<byte[], byte[]> context;

    ProductFilter(BanList bans, Schema productSchema, Counts counts) {
        this.bans = bans;
        this.reader = new Avro.Reader(productSchema);
        this.counts = counts;
    }

    @Override
    public void init(ProcessorContext<byte[], byte[]> context) {
        this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        if (record.value() == null) {
            if (record.key() == null) {
                reject("tombstone without a key");
                return;
            }
            counts.tombstones.increment();
            context.forward(record);
            return;
        }
        Product product;
        try {
            product = Avro.product(reader.read(record.value()));
        } catch (Avro.Undecodable e) {
            reject(e.getMessage());
            return;
        }
        if (record.key() == null
                || !Arrays.equals(record.key(), product.productId().getBytes(StandardCharsets.UTF_8))) {
            reject("key is not the product_id " + product.productId());
            return;
        }
        Ban ban = bans.index().match(product);
        if (ban != null) {
            counts.banned.increment();
            LOG.info("banned product {} by {}", product.productId(), ban.key());
            return;
        }
        counts.passed.increment();
        context.forward(record);
    }

    private void reject(String why) {
        counts.rejected.increment();
        String where = context.recordMetadata()
                .map(RecordMetadata::toString)
                .orElse("unknown offset");
        LOG.warn("dropped undecodable record at {}: {}", where, why);
    }
}
