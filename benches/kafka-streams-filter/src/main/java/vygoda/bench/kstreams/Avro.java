package vygoda.bench.kstreams;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

/**
 * Confluent-framed Avro: byte 0 is the magic 0, bytes 1..4 the writer's schema id (big endian),
 * then the binary datum.
 *
 * <p>The writer schema is the bundled .avsc, not looked up by id in the registry: the bench
 * writes products and bans with the current schemas, so the id always names that schema. A
 * record written with another schema version would be misread; the Rust filter resolves by id.
 */
final class Avro {
    private Avro() {}

    static final int HEADER = 5;

    static Schema schema(Path avsc) throws IOException {
        return new Schema.Parser().parse(Files.readString(avsc));
    }

    /** Thrown for a record that is not a framed datum of the expected schema. */
    static final class Undecodable extends Exception {
        Undecodable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Decodes framed datums of one writer schema; one per thread (it reuses its decoder). */
    static final class Reader {
        private final GenericDatumReader<GenericRecord> reader;
        private BinaryDecoder decoder;

        Reader(Schema writer) {
            this.reader = new GenericDatumReader<>(writer);
        }

        GenericRecord read(byte[] framed) throws Undecodable {
            return read(framed, 0);
        }

        /** The framed datum that starts at {@code offset} of {@code bytes}. */
        GenericRecord read(byte[] bytes, int offset) throws Undecodable {
            int length = bytes.length - offset;
            if (length < HEADER) {
                throw new Undecodable("record of " + length + " bytes has no Confluent header", null);
            }
            if (bytes[offset] != 0) {
                throw new Undecodable("bad magic byte " + bytes[offset], null);
            }
            decoder = DecoderFactory.get().binaryDecoder(bytes, offset + HEADER, length - HEADER, decoder);
            try {
                return reader.read(null, decoder);
            } catch (IOException | RuntimeException e) {
                throw new Undecodable("Avro: " + e, e);
            }
        }
    }

    static String string(GenericRecord r, String field) {
        Object v = r.get(field);
        return v == null ? null : v.toString();
    }

    static Product product(GenericRecord r) {
        List<String> tags = null;
        Object t = r.get("tags");
        if (t instanceof List<?> list) {
            tags = new ArrayList<>(list.size());
            for (Object o : list) {
                tags.add(o.toString());
            }
        }
        return new Product(string(r, "product_id"), string(r, "brand"), string(r, "name"),
                string(r, "description"), tags);
    }

    static Ban ban(GenericRecord r) throws Undecodable {
        String symbol = string(r, "kind");
        Ban.Kind kind = Ban.Kind.fromSymbol(symbol)
                .orElseThrow(() -> new Undecodable("unknown ban kind " + symbol, null));
        Object addedAt = r.get("added_at");
        return new Ban(kind, string(r, "value"), string(r, "reason"), string(r, "added_by"),
                addedAt instanceof Long l ? l : 0L);
    }
}
