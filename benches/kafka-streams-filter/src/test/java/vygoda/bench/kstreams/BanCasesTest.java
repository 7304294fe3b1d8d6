package vygoda.bench.kstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class BanCasesTest {
    @Test
    void theSharedCaseTableDecidesAsTheRustMatcher() throws Exception {
        List<BanCases.Outcome> outcomes = BanCases.run(Path.of(System.getProperty("ban.cases")));
        assertTrue(outcomes.size() > 50, "the case table has its cases");
        String failed = outcomes.stream()
                .filter(o -> !o.ok())
                .map(o -> o.name() + " (expected banned=" + o.expected() + ")")
                .collect(Collectors.joining("\n"));
        assertEquals("", failed);
    }

    @Test
    void wordsFollowUax29() {
        assertEquals(List.of("роутер", "wi", "fi", "6"), Text.words(Text.normaliseText("Роутер Wi-Fi 6")));
        assertEquals(List.of("кабель", "usb:c", "3.5mm"), Text.words(Text.normaliseText("Кабель USB:C, 3.5mm!")));
        assertEquals(List.of("скидка"), Text.words(Text.normaliseText("🔥Скидка🔥")));
        assertEquals("зеленый дракон", Text.normaliseBrand(" ЗЕЛЁНЫЙ\u00a0\tДракон "));
    }
}
