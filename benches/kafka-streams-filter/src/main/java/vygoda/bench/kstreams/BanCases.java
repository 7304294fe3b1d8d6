package vygoda.bench.kstreams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * The shared case table (tests/fixtures/ban_cases.json) run through this matcher: each case's
 * ban value normalised as the ADMIN CLI stores it (a value the CLI refuses bans nothing), put in
 * a ban list of its own, and the product matched against it.
 */
final class BanCases {
    private BanCases() {}

    record Outcome(String name, boolean expected, boolean actual) {
        boolean ok() {
            return expected == actual;
        }
    }

    static List<Outcome> run(Path table) throws IOException {
        JsonNode root = new ObjectMapper().readTree(table.toFile());
        List<Outcome> out = new ArrayList<>();
        for (JsonNode c : root.path("cases")) {
            JsonNode b = c.path("ban");
            Ban.Kind kind = Ban.Kind.fromSymbol(b.path("kind").asText())
                    .orElseThrow(() -> new IOException("case " + c.path("name") + ": unknown kind"));
            TreeMap<String, Ban> byKey = new TreeMap<>();
            Ban.normalise(kind, b.path("value").asText()).ifPresent(v -> {
                Ban ban = new Ban(kind, v, "case table", "test", 0L);
                byKey.put(ban.key(), ban);
            });
            JsonNode p = c.path("product");
            List<String> tags = new ArrayList<>();
            p.path("tags").forEach(t -> tags.add(t.asText()));
            Product product = new Product(p.path("product_id").asText(), nullable(p, "brand"),
                    p.path("name").asText(), nullable(p, "description"), tags);
            boolean banned = new BanIndex(byKey).match(product) != null;
            out.add(new Outcome(c.path("name").asText(), c.path("banned").asBoolean(), banned));
        }
        return out;
    }

    private static String nullable(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }
}
