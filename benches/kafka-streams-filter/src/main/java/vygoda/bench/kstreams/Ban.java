package vygoda.bench.kstreams;

import java.util.List;
import java.util.Optional;

/** One ban-list entry (kafka/schemas/product-bans-value.avsc; ingest/src/ban.rs). */
record Ban(Kind kind, String value, String reason, String addedBy, long addedAt) {

    enum Kind {
        PRODUCT_ID("product_id"),
        BRAND("brand"),
        WORD("word");

        final String symbol;

        Kind(String symbol) {
            this.symbol = symbol;
        }

        static Optional<Kind> fromSymbol(String s) {
            for (Kind k : values()) {
                if (k.symbol.equals(s)) {
                    return Optional.of(k);
                }
            }
            return Optional.empty();
        }
    }

    /** The Kafka key of the entry, `kind:value`. */
    String key() {
        return kind.symbol + ":" + value;
    }

    /**
     * The form the ADMIN CLI stores a value in (ban.rs normalise): ids trimmed, brands
     * normalised, words reduced to their words joined by one space. Empty when the CLI refuses
     * the value (blank, an id with whitespace, a word ban without a letter or digit).
     */
    static Optional<String> normalise(Kind kind, String raw) {
        String trimmed = Text.trim(raw);
        if (trimmed.isEmpty()) {
            return Optional.empty();
        }
        switch (kind) {
            case PRODUCT_ID:
                return Text.hasWhiteSpace(trimmed) ? Optional.empty() : Optional.of(trimmed);
            case BRAND:
                return Optional.of(Text.normaliseBrand(trimmed));
            default:
                List<String> words = Text.words(Text.normaliseText(trimmed));
                return words.isEmpty() ? Optional.empty() : Optional.of(String.join(" ", words));
        }
    }
}
