package vygoda.bench.kstreams;

import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The current ban list, fed one record of the bans topic at a time by the GlobalKTable's store
 * (global thread) and read by the stream threads as an immutable {@link BanIndex}, rebuilt on
 * the first read after a change (bans change rarely; products are read all the time).
 */
final class BanList {
    private static final Logger LOG = LoggerFactory.getLogger(BanList.class);

    enum Change { ADDED, UPDATED, REMOVED, NOTHING }

    private final TreeMap<String, Ban> byKey = new TreeMap<>();
    private volatile BanIndex index = BanIndex.EMPTY;
    private volatile boolean dirty;

    /**
     * One record of the bans topic: a ban adds or updates, null (a tombstone) removes. As in the
     * Rust filter the entry is kept under the key recomputed from its fields, so a record under
     * a stale or hand-written key still lands on the canonical entry.
     */
    synchronized Change apply(String key, Ban ban) {
        Change change;
        if (ban != null) {
            String canonical = ban.key();
            if (!canonical.equals(key)) {
                LOG.warn("ban record key {} is not canonical; using the canonical key {}", key, canonical);
            }
            change = byKey.put(canonical, ban) == null ? Change.ADDED : Change.UPDATED;
            if (change == Change.ADDED) {
                LOG.info("ban added: {} (reason: {}, by {})", canonical, ban.reason(), ban.addedBy());
            }
        } else {
            change = byKey.remove(key) == null ? Change.NOTHING : Change.REMOVED;
            if (change == Change.REMOVED) {
                LOG.info("ban lifted: {}", key);
            }
        }
        if (change != Change.NOTHING) {
            dirty = true;
        }
        return change;
    }

    /** The bans as of the last record applied. */
    BanIndex index() {
        if (dirty) {
            synchronized (this) {
                if (dirty) {
                    index = new BanIndex(new TreeMap<>(byKey));
                    dirty = false;
                }
            }
        }
        return index;
    }

    synchronized int size() {
        return byKey.size();
    }
}
