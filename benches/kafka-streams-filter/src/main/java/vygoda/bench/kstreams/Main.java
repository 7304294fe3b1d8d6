package vygoda.bench.kstreams;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The ban filter as a Kafka Streams application; see README.md beside pom.xml. */
public final class Main {
    private static final Logger LOG = LoggerFactory.getLogger("kafka-streams-filter");

    private static final String USAGE = String.join("\n",
            "usage: kafka-streams-filter --platform FILE --input TOPIC --bans TOPIC --output TOPIC --app-id bench-...",
            "         [--principal admin] [--cluster prod] [--guarantee at_least_once|exactly_once_v2]",
            "         [--threads 1] [--products-schema AVSC] [--bans-schema AVSC] [--config KEY=VALUE]...",
            "       kafka-streams-filter --self-test CASES.json",
            "",
            "--config sets any Streams or client property (e.g. producer.linger.ms=5), after all others.");

    private Main() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = new LinkedHashMap<>();
        List<String> overrides = new ArrayList<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("-h") || a.equals("--help")) {
                System.out.println(USAGE);
                return;
            }
            if (!a.startsWith("--") || i + 1 >= argv.length) {
                die("bad argument " + a);
            }
            String v = argv[++i];
            if (a.equals("--config")) {
                overrides.add(v);
            } else {
                args.put(a.substring(2), v);
            }
        }
        if (args.containsKey("self-test")) {
            System.exit(selfTest(Path.of(args.get("self-test"))));
        }
        for (String required : List.of("platform", "input", "bans", "output", "app-id")) {
            if (!args.containsKey(required)) {
                die("--" + required + " is required");
            }
        }
        String appId = args.get("app-id");
        // The local ACLs let every principal use topics and groups named bench-… only, and
        // Streams names its group (and any internal topic) after the application id.
        if (!appId.startsWith("bench-")) {
            die("--app-id must start with bench- (the ACLs allow bench-… groups and topics)");
        }
        String guarantee = args.getOrDefault("guarantee", StreamsConfig.AT_LEAST_ONCE);
        if (!guarantee.equals(StreamsConfig.AT_LEAST_ONCE) && !guarantee.equals(StreamsConfig.EXACTLY_ONCE_V2)) {
            die("--guarantee must be at_least_once or exactly_once_v2");
        }
        Schema productSchema = Avro.schema(Path.of(args.getOrDefault("products-schema", "kafka/schemas/products-value.avsc")));
        Schema banSchema = Avro.schema(Path.of(args.getOrDefault("bans-schema", "kafka/schemas/product-bans-value.avsc")));
        Path stateDir = Files.createTempDirectory("kstreams-" + appId + "-");

        Properties props = new Properties();
        props.putAll(Platform.kafka(Path.of(args.get("platform")),
                args.getOrDefault("cluster", "prod"), args.getOrDefault("principal", "admin")));
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, args.getOrDefault("threads", "1"));
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.producerPrefix(ProducerConfig.ACKS_CONFIG), "all");
        for (String kv : overrides) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                die("--config wants KEY=VALUE, got " + kv);
            }
            props.put(kv.substring(0, eq), kv.substring(eq + 1));
        }

        ProductFilter.Counts counts = new ProductFilter.Counts();
        BanStore.Supplier bans = new BanStore.Supplier(appId + "-bans", banSchema);
        Topology topology = topology(args.get("input"), args.get("bans"), args.get("output"), bans, productSchema, counts);
        LOG.info("{}", topology.describe());
        KafkaStreams streams = new KafkaStreams(topology, props);

        CountDownLatch ended = new CountDownLatch(1);
        boolean[] stopping = {false};
        streams.setStateListener((now, before) -> {
            LOG.info("state {} -> {} (bans: {})", before, now, bans.bans().size());
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                ended.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            LOG.error("stream thread failed; stopping", e);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        ScheduledExecutorService progress = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "progress");
            t.setDaemon(true);
            return t;
        });
        progress.scheduleAtFixedRate(() -> LOG.info("{} bans={}", counts, bans.bans().size()), 10, 10, TimeUnit.SECONDS);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            synchronized (stopping) {
                stopping[0] = true;
            }
            streams.close(Duration.ofSeconds(30));
            LOG.info("stopped: {} bans={}", counts, bans.bans().size());
            deleteTree(stateDir);
        }, "shutdown"));

        LOG.info("{} -> {} with bans from {}, {}, application id {}", args.get("input"), args.get("output"),
                args.get("bans"), guarantee, appId);
        streams.start();
        ended.await();
        synchronized (stopping) {
            if (stopping[0]) {
                return;
            }
        }
        // Stopped by itself (an error, or a missing topic): exit non-zero for the bench.
        streams.close(Duration.ofSeconds(30));
        LOG.error("Kafka Streams stopped in state {}: {}", streams.state(), counts);
        System.exit(1);
    }

    /**
     * bans topic → GlobalKTable (its store indexes the bans); products → filter → output. No
     * repartitioning and no internal topics: the products keep their keys.
     */
    static Topology topology(String input, String bansTopic, String output, BanStore.Supplier bans,
            Schema productSchema, ProductFilter.Counts counts) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.globalTable(bansTopic, Consumed.with(Serdes.String(), Serdes.ByteArray()),
                Materialized.<String, byte[]>as(bans)
                        .withKeySerde(Serdes.String())
                        .withValueSerde(Serdes.ByteArray())
                        // Every ban reaches the index as soon as it is read, not at a cache flush.
                        .withCachingDisabled());
        builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .process(() -> new ProductFilter(bans.bans(), productSchema, counts))
                .to(output, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
        return builder.build();
    }

    private static int selfTest(Path table) throws IOException {
        int passed = 0;
        int failed = 0;
        for (BanCases.Outcome o : BanCases.run(table)) {
            if (o.ok()) {
                passed++;
            } else {
                failed++;
                System.out.println("FAIL " + o.name() + ": expected banned=" + o.expected() + ", got " + o.actual());
            }
        }
        System.out.println(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temp dir left behind is harmless
        }
    }

    private static void die(String message) {
        System.err.println("kafka-streams-filter: " + message);
        System.err.println(USAGE);
        System.exit(2);
    }
}
