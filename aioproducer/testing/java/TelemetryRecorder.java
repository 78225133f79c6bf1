/*
 * A broker metrics reporter that accepts client metrics (KIP-714) and records every push it
 * receives, for aioproducer's tests. Compiled by aioproducer.testing.telemetry against the
 * broker's own jars (Kafka 3.7+) and put on the broker's classpath; configured with
 *   metric.reporters=aioproducer.testing.TelemetryRecorder
 *   aioproducer.telemetry.recorder.file=/path/to/pushes.jsonl
 * Each push becomes one JSON line: the client instance id, whether it was terminating, the
 * payload's size, and every data point decoded with the OTLP classes the broker ships
 * (shaded in kafka-clients): metric name, kind, temporality, value and attributes.
 *
 * Its main() sets a client-metrics subscription with the Java Admin client:
 *   java -cp <this>:<kafka libs>/* aioproducer.testing.TelemetryRecorder \
 *       <bootstrap> <subscription name> <metrics prefixes, comma-separated> <interval.ms>
 */
package aioproducer.testing;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.server.authorizer.AuthorizableRequestContext;
import org.apache.kafka.server.telemetry.ClientTelemetry;
import org.apache.kafka.server.telemetry.ClientTelemetryPayload;
import org.apache.kafka.server.telemetry.ClientTelemetryReceiver;
import org.apache.kafka.shaded.io.opentelemetry.proto.common.v1.KeyValue;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.Metric;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.MetricsData;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.ScopeMetrics;

@SuppressWarnings("removal") // ClientTelemetry: the interface Kafka 3.7 to 4.x all call
public class TelemetryRecorder implements MetricsReporter, ClientTelemetry, ClientTelemetryReceiver {
    public static final String FILE_CONFIG = "aioproducer.telemetry.recorder.file";
    private String path;

    @Override
    public void configure(Map<String, ?> configs) {
        Object file = configs.get(FILE_CONFIG);
        path = file == null ? null : file.toString();
    }

    @Override public void init(List<KafkaMetric> metrics) { }
    @Override public void metricChange(KafkaMetric metric) { }
    @Override public void metricRemoval(KafkaMetric metric) { }
    @Override public void close() { }

    @Override
    public ClientTelemetryReceiver clientReceiver() {
        return this;
    }

    @Override
    public synchronized void exportMetrics(AuthorizableRequestContext context, ClientTelemetryPayload payload) {
        StringBuilder line = new StringBuilder();
        line.append("{\"client_instance_id\":").append(quote(payload.clientInstanceId().toString()));
        line.append(",\"client_id\":").append(quote(context.clientId()));
        line.append(",\"terminating\":").append(payload.isTerminating());
        line.append(",\"content_type\":").append(quote(payload.contentType()));
        ByteBuffer data = payload.data().duplicate();
        line.append(",\"bytes\":").append(data.remaining());
        line.append(",\"points\":[");
        try {
            MetricsData metrics = MetricsData.parseFrom(data);
            boolean first = true;
            for (ResourceMetrics rm : metrics.getResourceMetricsList()) {
                for (ScopeMetrics sm : rm.getScopeMetricsList()) {
                    for (Metric m : sm.getMetricsList()) {
                        List<NumberDataPoint> points;
                        String kind;
                        String temporality = "";
                        if (m.hasSum()) {
                            kind = m.getSum().getIsMonotonic() ? "monotonic_sum" : "sum";
                            temporality = m.getSum().getAggregationTemporality().name();
                            points = m.getSum().getDataPointsList();
                        } else if (m.hasGauge()) {
                            kind = "gauge";
                            points = m.getGauge().getDataPointsList();
                        } else {
                            kind = m.getDataCase().name();
                            points = List.of();
                        }
                        for (NumberDataPoint p : points) {
                            if (!first) line.append(',');
                            first = false;
                            double value = p.hasAsInt() ? p.getAsInt() : p.getAsDouble();
                            line.append("{\"name\":").append(quote(m.getName()));
                            line.append(",\"kind\":").append(quote(kind));
                            line.append(",\"temporality\":").append(quote(temporality));
                            line.append(",\"value\":").append(Double.isFinite(value) ? Double.toString(value) : "null");
                            line.append(",\"start\":").append(Long.toUnsignedString(p.getStartTimeUnixNano()));
                            line.append(",\"time\":").append(Long.toUnsignedString(p.getTimeUnixNano()));
                            line.append(",\"attributes\":{");
                            boolean firstAttribute = true;
                            for (KeyValue kv : p.getAttributesList()) {
                                if (!firstAttribute) line.append(',');
                                firstAttribute = false;
                                line.append(quote(kv.getKey())).append(':').append(quote(kv.getValue().getStringValue()));
                            }
                            line.append("}}");
                        }
                    }
                }
            }
            line.append("]");
        } catch (IOException | RuntimeException e) {
            line.append("],\"error\":").append(quote(e.toString()));
        }
        line.append("}\n");
        if (path == null) return;
        try (Writer out = new OutputStreamWriter(new FileOutputStream(path, true), StandardCharsets.UTF_8)) {
            out.write(line.toString());
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(props)) {
            ConfigResource resource = new ConfigResource(ConfigResource.Type.CLIENT_METRICS, args[1]);
            Collection<AlterConfigOp> ops = List.of(
                new AlterConfigOp(new ConfigEntry("metrics", args[2]), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("interval.ms", args[3]), AlterConfigOp.OpType.SET));
            admin.incrementalAlterConfigs(Map.of(resource, ops)).all().get();
        }
    }

    private static String quote(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
