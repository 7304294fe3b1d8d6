package vygoda.bench.kstreams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.common.config.SslConfigs;

/**
 * Kafka client settings from the platform file (.vygoda/platform.json): the cluster's
 * bootstrap servers and a principal's librdkafka-style TLS files, turned into the Java client's
 * PEM settings. The PEM texts are passed inline (ssl.keystore.key, ssl.keystore.certificate.chain,
 * ssl.truststore.certificates), so no key store file is written.
 */
final class Platform {
    private Platform() {}

    static Map<String, Object> kafka(Path platformFile, String cluster, String principal) throws IOException {
        JsonNode root = new ObjectMapper().readTree(platformFile.toFile());
        JsonNode bootstrap = root.path("clusters").path(cluster).path("bootstrap");
        if (!bootstrap.isTextual()) {
            throw new IllegalArgumentException(platformFile + ": no clusters." + cluster + ".bootstrap");
        }
        JsonNode rd = root.path("principals").path(principal).path("kafka");
        if (!rd.isObject()) {
            throw new IllegalArgumentException(platformFile + ": no principals." + principal + ".kafka");
        }
        Map<String, Object> props = new HashMap<>();
        props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap.asText());
        String protocol = rd.path("security.protocol").asText("PLAINTEXT").toUpperCase();
        props.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, protocol);
        if (!protocol.contains("SSL")) {
            return props;
        }
        String ca = text(rd, "ssl.ca.location");
        if (ca != null) {
            props.put(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, "PEM");
            props.put(SslConfigs.SSL_TRUSTSTORE_CERTIFICATES_CONFIG, Files.readString(Path.of(ca)));
        }
        String cert = text(rd, "ssl.certificate.location");
        String key = text(rd, "ssl.key.location");
        if (cert != null && key != null) {
            String password = text(rd, "ssl.key.password");
            props.put(SslConfigs.SSL_KEYSTORE_TYPE_CONFIG, "PEM");
            props.put(SslConfigs.SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG, Files.readString(Path.of(cert)));
            props.put(SslConfigs.SSL_KEYSTORE_KEY_CONFIG, pkcs8(Path.of(key), password));
            if (password != null && isEncryptedPkcs8(Files.readString(Path.of(key)))) {
                props.put(SslConfigs.SSL_KEY_PASSWORD_CONFIG, password);
            }
        }
        return props;
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    private static boolean isEncryptedPkcs8(String pem) {
        return pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    }

    /**
     * The Java client reads PKCS#8 keys only ("BEGIN PRIVATE KEY", or encrypted). A key in
     * another PEM form (PKCS#1 "BEGIN RSA PRIVATE KEY", SEC1 "BEGIN EC PRIVATE KEY") is converted
     * with openssl into memory, unencrypted: it never touches the disk.
     */
    static String pkcs8(Path keyFile, String password) throws IOException {
        String pem = Files.readString(keyFile);
        if (pem.contains("-----BEGIN PRIVATE KEY-----") || isEncryptedPkcs8(pem)) {
            return pem;
        }
        ProcessBuilder pb = new ProcessBuilder("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", keyFile.toString());
        if (password != null) {
            pb.environment().put("VYGODA_KEY_PASSWORD", password);
            pb.command().addAll(java.util.List.of("-passin", "env:VYGODA_KEY_PASSWORD"));
        }
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        try {
            if (p.waitFor() != 0 || !out.contains("-----BEGIN PRIVATE KEY-----")) {
                throw new IOException("openssl could not convert " + keyFile + " to PKCS#8");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted converting " + keyFile, e);
        }
        return out;
    }
}
