package vygoda.bench;

import java.util.Map;

import org.apache.kafka.connect.mirror.IdentityReplicationPolicy;

/**
 * MirrorMaker 2's IdentityReplicationPolicy (a replicated topic keeps its name), except that the
 * three internal topics the stock policies name themselves (heartbeats, offset-syncs,
 * checkpoints) get a prefix, so a benchmark run on the shared local clusters creates only topics
 * it can recognise and delete. Stock MirrorMaker would create a topic named plain "heartbeats".
 * Nothing on the replication path differs from MirrorMaker's own.
 *
 * <pre>
 *   replication.policy.class = vygoda.bench.BenchTopicsPolicy
 *   replication.policy.bench.prefix = bench-123-mm2-
 * </pre>
 *
 * The key starts with "replication.policy", which MirrorMaker passes both to the Connect workers
 * and to every connector and task, where the policy is instantiated and configured.
 */
public class BenchTopicsPolicy extends IdentityReplicationPolicy {
    public static final String PREFIX_CONFIG = "replication.policy.bench.prefix";
    private static final String CHECKPOINTS_SUFFIX = ".checkpoints.internal";

    private String prefix = "bench-mm2-";

    @Override
    public void configure(Map<String, ?> props) {
        super.configure(props);
        Object value = props.get(PREFIX_CONFIG);
        if (value != null && !value.toString().isEmpty()) {
            prefix = value.toString();
        }
    }

    @Override
    public String heartbeatsTopic() {
        return prefix + "heartbeats";
    }

    @Override
    public String offsetSyncsTopic(String clusterAlias) {
        return prefix + "mm2-offset-syncs." + clusterAlias + ".internal";
    }

    @Override
    public String checkpointsTopic(String clusterAlias) {
        return prefix + clusterAlias + CHECKPOINTS_SUFFIX;
    }

    @Override
    public boolean isCheckpointsTopic(String topic) {
        return topic.startsWith(prefix) && topic.endsWith(CHECKPOINTS_SUFFIX);
    }

    @Override
    public boolean isMM2InternalTopic(String topic) {
        return (topic.startsWith(prefix + "mm2") && topic.endsWith(".internal")) || isCheckpointsTopic(topic);
    }
}
