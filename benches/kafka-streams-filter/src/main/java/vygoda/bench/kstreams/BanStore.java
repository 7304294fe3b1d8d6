package vygoda.bench.kstreams;

import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentSkipListMap;
import org.apache.avro.Schema;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.BatchingStateRestoreCallback;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.state.KeyValueBytesStoreSupplier;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The GlobalKTable's store over the bans topic: an in-memory key-value store of the bytes
 * Streams hands it (see {@link #TIMESTAMP}) that also feeds every write to a {@link BanList}.
 *
 * <p>Why not the stock store and lookups from the processor: a word ban is matched against
 * every run of adjacent words of every field, so a product would need a store lookup per word
 * and phrase length; the index answers it from a few hash lookups. The GlobalKTable still does
 * all the Kafka work: it reads the whole topic before processing starts, then follows it on
 * the global thread. Both paths reach {@link #put}: records read while processing through the
 * table's source node, and the topic read at start-up through the restore callback below.
 */
final class BanStore implements KeyValueStore<Bytes, byte[]> {
    private static final Logger LOG = LoggerFactory.getLogger(BanStore.class);

    /** Hands Streams this store; {@link #bans()} is what the processors read. */
    static final class Supplier implements KeyValueBytesStoreSupplier {
        private final String name;
        private final Schema banSchema;
        private final BanList bans = new BanList();

        Supplier(String name, Schema banSchema) {
            this.name = name;
            this.banSchema = banSchema;
        }

        BanList bans() {
            return bans;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public KeyValueStore<Bytes, byte[]> get() {
            return new BanStore(name, new Avro.Reader(banSchema), bans);
        }

        @Override
        public String metricsScope() {
            return "ban-index";
        }
    }

    /**
     * Streams keeps the values of a table's in-memory store in its timestamped form: the record's
     * timestamp (8 bytes, big endian), then the value as read from the topic. Both paths give
     * that form: the table's source node writes it, and the restore at start-up converts the
     * topic's records to it (the store is marked timestamped by Streams' in-memory wrapper).
     */
    static final int TIMESTAMP = 8;

    private final String name;
    private final Avro.Reader reader;
    private final BanList bans;
    private final ConcurrentSkipListMap<Bytes, byte[]> map = new ConcurrentSkipListMap<>();
    private volatile boolean open;

    private BanStore(String name, Avro.Reader reader, BanList bans) {
        this.name = name;
        this.reader = reader;
        this.bans = bans;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void init(StateStoreContext context, StateStore root) {
        context.register(root, new BatchingStateRestoreCallback() {
            @Override
            public void restoreAll(java.util.Collection<KeyValue<byte[], byte[]>> records) {
                for (KeyValue<byte[], byte[]> record : records) {
                    put(Bytes.wrap(record.key), record.value);
                }
            }

            @Override
            public void restore(byte[] key, byte[] value) {
                put(Bytes.wrap(key), value);
            }
        });
        open = true;
    }

    /**
     * Called by the global thread only. A value that does not decode is kept in the store but
     * changes no ban, as in the Rust filter ("unreadable ban record; ignored").
     */
    @Override
    public void put(Bytes key, byte[] value) {
        String k = new String(key.get(), StandardCharsets.UTF_8);
        if (value == null) {
            map.remove(key);
            bans.apply(k, null);
            return;
        }
        map.put(key, value);
        if (value.length < TIMESTAMP) {
            LOG.error("ban record {} of {} bytes has no timestamp; ignored", k, value.length);
            return;
        }
        try {
            bans.apply(k, Avro.ban(reader.read(value, TIMESTAMP)));
        } catch (Avro.Undecodable e) {
            LOG.error("unreadable ban record {}; ignored: {}", k, e.getMessage());
        }
    }

    @Override
    public byte[] putIfAbsent(Bytes key, byte[] value) {
        byte[] old = map.get(key);
        if (old == null) {
            put(key, value);
        }
        return old;
    }

    @Override
    public void putAll(List<KeyValue<Bytes, byte[]>> entries) {
        for (KeyValue<Bytes, byte[]> e : entries) {
            put(e.key, e.value);
        }
    }

    @Override
    public byte[] delete(Bytes key) {
        byte[] old = map.get(key);
        put(key, null);
        return old;
    }

    @Override
    public byte[] get(Bytes key) {
        return map.get(key);
    }

    @Override
    public KeyValueIterator<Bytes, byte[]> range(Bytes from, Bytes to) {
        if (from != null && to != null && from.compareTo(to) > 0) {
            return iterator(new ConcurrentSkipListMap<Bytes, byte[]>());
        }
        NavigableMap<Bytes, byte[]> sub = map;
        if (from != null) {
            sub = sub.tailMap(from, true);
        }
        if (to != null) {
            sub = sub.headMap(to, true);
        }
        return iterator(sub);
    }

    @Override
    public KeyValueIterator<Bytes, byte[]> all() {
        return iterator(map);
    }

    @Override
    public long approximateNumEntries() {
        return map.size();
    }

    @Override
    public void flush() {}

    @Override
    public void close() {
        open = false;
    }

    @Override
    public boolean persistent() {
        return false;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    private static KeyValueIterator<Bytes, byte[]> iterator(NavigableMap<Bytes, byte[]> entries) {
        Iterator<Map.Entry<Bytes, byte[]>> it = entries.entrySet().iterator();
        return new KeyValueIterator<>() {
            private Map.Entry<Bytes, byte[]> next;

            @Override
            public boolean hasNext() {
                if (next == null && it.hasNext()) {
                    next = it.next();
                }
                return next != null;
            }

            @Override
            public KeyValue<Bytes, byte[]> next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                KeyValue<Bytes, byte[]> kv = KeyValue.pair(next.getKey(), next.getValue());
                next = null;
                return kv;
            }

            @Override
            public Bytes peekNextKey() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return next.getKey();
            }

            @Override
            public void close() {}
        };
    }
}
