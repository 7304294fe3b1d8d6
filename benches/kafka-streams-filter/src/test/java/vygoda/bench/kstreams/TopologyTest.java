package vygoda.bench.kstreams;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.apache.avro.Conversions;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The whole topology on Kafka Streams' test driver: bans through the GlobalKTable, products through the filter. */
class TopologyTest {
    private Schema productSchema;
    private Schema banSchema;
    private TopologyTestDriver driver;
    private TestInputTopic<String, byte[]> bans;
    private TestInputTopic<byte[], byte[]> products;
    private TestOutputTopic<byte[], byte[]> filtered;
    private ProductFilter.Counts counts;

    @BeforeEach
    void start() throws IOException {
        productSchema = Avro.schema(Path.of(System.getProperty("products.schema")));
        banSchema = Avro.schema(Path.of(System.getProperty("bans.schema")));
        counts = new ProductFilter.Counts();
        BanStore.Supplier supplier = new BanStore.Supplier("bench-test-bans", banSchema);
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "bench-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        driver = new TopologyTestDriver(
                Main.topology("products", "bans", "filtered", supplier, productSchema, counts), props);
        bans = driver.createInputTopic("bans", new StringSerializer(), new ByteArraySerializer());
        products = driver.createInputTopic("products", new ByteArraySerializer(), new ByteArraySerializer());
        filtered = driver.createOutputTopic("filtered", new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void dropsBannedProductsAndForwardsTheOthersByteForByte() throws IOException {
        ban("brand", "fakelab");
        ban("word", "реплика");
        ban("word", "жидкость для вейпа");
        ban("product_id", "p-9");
        byte[] ok = product("p-1", "Часы настенные", "Acme", null, List.of("дом"));
        send("p-1", ok);
        send("p-2", product("p-2", "Кроссовки", "  FakeLab ", null, List.of()));
        send("p-3", product("p-3", "Сумка", null, "Качественная РЕПЛИКА.", List.of()));
        send("p-4", product("p-4", "Набор", null, null, List.of("Жидкость для вейпа")));
        send("p-5", product("p-5", "Жидкость для", null, "вейпа", List.of()));
        send("p-9", product("p-9", "Чайник", null, null, null));

        List<TestRecord<byte[], byte[]>> out = filtered.readRecordsToList();
        assertEquals(List.of("p-1", "p-5"), out.stream().map(r -> new String(r.key(), StandardCharsets.UTF_8)).toList());
        assertArrayEquals(ok, out.get(0).value());
        assertEquals(4, counts.banned.sum());
    }

    @Test
    void banChangesApplyToLaterProducts() throws IOException {
        ban("word", "вейп");
        send("p-1", product("p-1", "Вейп X", null, null, null));
        bans.pipeInput("word:вейп", (byte[]) null);
        send("p-2", product("p-2", "Вейп X", null, null, null));
        ban("brand", "acme");
        send("p-3", product("p-3", "Часы", "ACME", null, null));
        send("p-4", product("p-4", "Вейп Y", null, null, null));
        assertEquals(List.of("p-2", "p-4"), keys());
    }

    @Test
    void aBanUnderAStaleKeyLandsOnItsCanonicalEntry() throws IOException {
        bans.pipeInput("brand:FakeLab", framed(banSchema, ban(banSchema, "brand", "fakelab")));
        send("p-1", product("p-1", "x", "FakeLab", null, null));
        bans.pipeInput("brand:FakeLab", (byte[]) null); // not the entry's key: lifts nothing
        send("p-2", product("p-2", "x", "FakeLab", null, null));
        bans.pipeInput("brand:fakelab", (byte[]) null);
        send("p-3", product("p-3", "x", "FakeLab", null, null));
        assertEquals(List.of("p-3"), keys());
    }

    @Test
    void tombstonesPassAndUndecodableRecordsAreDropped() throws IOException {
        products.pipeInput("p-1".getBytes(StandardCharsets.UTF_8), (byte[]) null);
        send("p-2", new byte[] {1, 0, 0, 0, 1, 2});
        send("p-3", product("p-4", "key is another id", null, null, null));
        byte[] good = product("p-5", "ok", null, null, null);
        send("p-5", java.util.Arrays.copyOf(good, good.length - 3));
        List<TestRecord<byte[], byte[]>> out = filtered.readRecordsToList();
        assertEquals(1, out.size());
        assertEquals("p-1", new String(out.get(0).key(), StandardCharsets.UTF_8));
        assertNull(out.get(0).value());
        assertEquals(3, counts.rejected.sum());
    }

    private List<String> keys() {
        return filtered.readRecordsToList().stream()
                .map(r -> new String(r.key(), StandardCharsets.UTF_8)).toList();
    }

    private void send(String key, byte[] value) {
        products.pipeInput(key.getBytes(StandardCharsets.UTF_8), value);
    }

    private void ban(String kind, String value) throws IOException {
        bans.pipeInput(kind + ":" + value, framed(banSchema, ban(banSchema, kind, value)));
    }

    private static GenericRecord ban(Schema schema, String kind, String value) {
        GenericRecord r = new GenericData.Record(schema);
        r.put("kind", new GenericData.EnumSymbol(schema.getField("kind").schema(), kind));
        r.put("value", value);
        r.put("reason", "test");
        r.put("added_by", "test");
        r.put("added_at", 1_717_000_000_000L);
        return r;
    }

    private byte[] product(String id, String name, String brand, String description, List<String> tags)
            throws IOException {
        GenericRecord r = new GenericData.Record(productSchema);
        r.put("product_id", id);
        r.put("name", name);
        r.put("description", description);
        Schema priceSchema = productSchema.getField("price").schema();
        GenericRecord price = new GenericData.Record(priceSchema);
        Schema amount = priceSchema.getField("amount").schema();
        price.put("amount", new Conversions.DecimalConversion().toBytes(
                new BigDecimal("199.90"), amount, amount.getLogicalType()));
        price.put("currency", "RUB");
        r.put("price", price);
        r.put("category", "Дом");
        r.put("brand", brand);
        GenericRecord stock = new GenericData.Record(productSchema.getField("stock").schema());
        stock.put("available", 3);
        r.put("stock", stock);
        r.put("tags", tags);
        r.put("created_at", 1_717_000_000_000L);
        r.put("store_id", "store-001");
        return framed(productSchema, r);
    }

    private static byte[] framed(Schema schema, GenericRecord record) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(5).put((byte) 0).putInt(42).array());
        BinaryEncoder enc = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(record, enc);
        enc.flush();
        return out.toByteArray();
    }
}
