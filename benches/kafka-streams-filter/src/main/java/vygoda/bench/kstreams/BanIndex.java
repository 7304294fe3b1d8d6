package vygoda.bench.kstreams;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;

/**
 * The ban list indexed for matching, immutable (ingest/src/matcher.rs, BanSet):
 * <ul>
 *   <li>id bans: the exact product id;
 *   <li>brand bans: the normalised brand, exact;
 *   <li>word bans: the ban's words adjacent and in order within one field: the name, the
 *       description or one tag. No stemming, no substrings.
 * </ul>
 */
final class BanIndex {
    static final BanIndex EMPTY = new BanIndex(new java.util.TreeMap<>());

    private record Phrase(List<String> words, Ban ban) {}

    private final int size;
    private final Map<String, Ban> ids = new HashMap<>();
    private final Map<String, Ban> brands = new HashMap<>();
    /** First word → the phrases starting with it (a one-word ban is a phrase of one). */
    private final Map<String, List<Phrase>> phrases = new HashMap<>();

    /** From canonical key → ban, in key order, later keys winning as in the Rust filter. */
    BanIndex(SortedMap<String, Ban> byKey) {
        size = byKey.size();
        for (Ban ban : byKey.values()) {
            switch (ban.kind()) {
                case PRODUCT_ID -> ids.put(ban.value(), ban);
                case BRAND -> brands.put(Text.normaliseBrand(ban.value()), ban);
                case WORD -> {
                    List<String> words = Text.words(Text.normaliseText(ban.value()));
                    if (!words.isEmpty()) {
                        phrases.computeIfAbsent(words.get(0), w -> new ArrayList<>())
                                .add(new Phrase(List.copyOf(words), ban));
                    }
                }
            }
        }
    }

    int size() {
        return size;
    }

    /** The first ban the product matches (id, then brand, then words), or null. */
    Ban match(Product p) {
        if (size == 0) {
            return null;
        }
        Ban hit = ids.get(p.productId());
        if (hit == null && p.brand() != null && !brands.isEmpty()) {
            hit = brands.get(Text.normaliseBrand(p.brand()));
        }
        if (hit != null || phrases.isEmpty()) {
            return hit;
        }
        if (p.name() != null && (hit = matchWords(p.name())) != null) {
            return hit;
        }
        if (p.description() != null && (hit = matchWords(p.description())) != null) {
            return hit;
        }
        if (p.tags() != null) {
            for (String tag : p.tags()) {
                if ((hit = matchWords(tag)) != null) {
                    return hit;
                }
            }
        }
        return null;
    }

    private Ban matchWords(String text) {
        List<String> tokens = Text.words(Text.normaliseText(text));
        for (int i = 0; i < tokens.size(); i++) {
            List<Phrase> candidates = phrases.get(tokens.get(i));
            if (candidates == null) {
                continue;
            }
            for (Phrase phrase : candidates) {
                int end = i + phrase.words().size();
                if (end <= tokens.size() && tokens.subList(i, end).equals(phrase.words())) {
                    return phrase.ban();
                }
            }
        }
        return null;
    }
}
