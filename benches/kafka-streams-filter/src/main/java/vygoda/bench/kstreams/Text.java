package vygoda.bench.kstreams;

import com.ibm.icu.lang.UCharacter;
import com.ibm.icu.lang.UProperty;
import com.ibm.icu.text.BreakIterator;
import com.ibm.icu.util.ULocale;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The normalisation ban values and product text both go through (ingest/src/text.rs): lower
 * case, ё folded into е; brands with whitespace runs collapsed; words on UAX #29 word
 * boundaries, keeping the pieces that hold a letter or a digit.
 */
final class Text {
    private Text() {}

    /** ICU's root word rules are UAX #29 (the JDK's own BreakIterator is not). One per thread. */
    private static final ThreadLocal<BreakIterator> WORDS =
            ThreadLocal.withInitial(() -> BreakIterator.getWordInstance(ULocale.ROOT));

    /** Full Unicode lower case, not locale-tailored, then ё → е. */
    static String normaliseText(String s) {
        return s.toLowerCase(Locale.ROOT).replace('ё', 'е');
    }

    /** Normalised text with runs of Unicode White_Space (no-break space too) made one space, trimmed. */
    static String normaliseBrand(String s) {
        return String.join(" ", splitWhitespace(normaliseText(s)));
    }

    /** Unicode White_Space, as Rust's char::is_whitespace (Java's isWhitespace leaves out no-break spaces). */
    static boolean isWhiteSpace(int cp) {
        return UCharacter.hasBinaryProperty(cp, UProperty.WHITE_SPACE);
    }

    /** Trim Unicode White_Space at both ends (Rust's str::trim). */
    static String trim(String s) {
        int start = 0;
        int end = s.length();
        while (start < end) {
            int cp = s.codePointAt(start);
            if (!isWhiteSpace(cp)) {
                break;
            }
            start += Character.charCount(cp);
        }
        while (end > start) {
            int cp = s.codePointBefore(end);
            if (!isWhiteSpace(cp)) {
                break;
            }
            end -= Character.charCount(cp);
        }
        return s.substring(start, end);
    }

    static List<String> splitWhitespace(String s) {
        List<String> out = new ArrayList<>();
        int i = 0;
        int start = -1;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            if (isWhiteSpace(cp)) {
                if (start >= 0) {
                    out.add(s.substring(start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
            i += Character.charCount(cp);
        }
        if (start >= 0) {
            out.add(s.substring(start));
        }
        return out;
    }

    static boolean hasWhiteSpace(String s) {
        return s.codePoints().anyMatch(Text::isWhiteSpace);
    }

    /**
     * The words of already normalised text: the UAX #29 segments holding at least one
     * alphanumeric character (unicode-segmentation's unicode_words).
     */
    static List<String> words(String normalised) {
        BreakIterator it = WORDS.get();
        it.setText(normalised);
        List<String> out = new ArrayList<>();
        int start = it.first();
        for (int end = it.next(); end != BreakIterator.DONE; start = end, end = it.next()) {
            if (hasAlphanumeric(normalised, start, end)) {
                out.add(normalised.substring(start, end));
            }
        }
        return out;
    }

    /** Rust's char::is_alphanumeric: Alphabetic or a number (Nd, Nl, No). */
    private static boolean hasAlphanumeric(String s, int start, int end) {
        for (int i = start; i < end; ) {
            int cp = s.codePointAt(i);
            if (UCharacter.hasBinaryProperty(cp, UProperty.ALPHABETIC)) {
                return true;
            }
            int type = UCharacter.getType(cp);
            if (type == UCharacter.DECIMAL_DIGIT_NUMBER
                    || type == UCharacter.LETTER_NUMBER
                    || type == UCharacter.OTHER_NUMBER) {
                return true;
            }
            i += Character.charCount(cp);
        }
        return false;
    }
}
