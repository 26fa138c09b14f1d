import io.apicurio.registry.serde.Default4ByteIdHandler;
import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.config.IdOption;
import io.apicurio.registry.serde.config.SerdeConfig;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads an Avro topic with Kafka's own Java consumer and Apicurio Registry's Avro deserializer, a
 * reader that shares nothing with the connector, so that the tests check what the connector wrote
 * with a client other than the one that wrote it. Every partition is assigned from its beginning
 * (no group, nothing committed), read_committed. Prints one JSON line per record, then a last line
 * with the count and whether the wait ran out.
 *
 * <p>Arguments: bootstrap servers, the registry's native (v3) API URL, topic, records expected,
 * timeout ms, settle ms (reading goes on this long after the expected count to see extra records).
 *
 * <p>Values are normalised as test/support/python/read_avro_topic.py does, so that both readers'
 * lines compare equal: decimals as plain text at the schema's scale, timestamp-micros as integer
 * microseconds, other bytes as base64.
 */
public final class AvroTopicReader {
  public static void main(String[] args) {
    int status = 0;
    try {
      read(args);
    } catch (Throwable error) {
      error.printStackTrace();
      // The trace's end is what a caller shows; the causes in one last line say what went wrong.
      StringBuilder why = new StringBuilder("AvroTopicReader failed:");
      for (Throwable cause = error; cause != null; cause = cause.getCause()) {
        why.append(' ').append(cause);
        // The registry client's errors carry the server's answer in a ProblemDetails, not a message.
        try {
          Object detail = cause.getClass().getMethod("getDetail").invoke(cause);
          if (detail != null) why.append(" (").append(detail).append(')');
        } catch (ReflectiveOperationException notProblemDetails) {
          // Not one: its toString says it all.
        }
        if (cause.getCause() != null) why.append(";");
      }
      System.err.println(why);
      status = 1;
    }
    // The registry client runs on Vert.x, whose threads would keep the JVM alive after main.
    System.exit(status);
  }

  private static void read(String[] args) {
    String bootstrap = args[0];
    String registryUrl = args[1];
    String topic = args[2];
    long expected = Long.parseLong(args[3]);
    long timeoutMs = Long.parseLong(args[4]);
    long settleMs = Long.parseLong(args[5]);
    PrintStream stdout = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);

    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");

    Map<String, Object> serde = new HashMap<>();
    serde.put(SerdeConfig.REGISTRY_URL, registryUrl);
    // The connector writes Confluent's framing: magic byte 0, then a 4-byte id that the
    // Confluent-compatible API handed out, and Apicurio 3's ccompat API hands out content ids (a
    // schema registered under several subjects has one content id and a global id per subject).
    // Serde 3.x reads 4-byte content ids by default; both are set so that a change of default
    // cannot make the reader look schemas up by global id.
    serde.put(SerdeConfig.ID_HANDLER, Default4ByteIdHandler.class.getName());
    serde.put(SerdeConfig.USE_ID, IdOption.contentId.name());

    long count = 0;
    boolean timedOut;
    StringBuilder out = new StringBuilder();
    try (AvroKafkaDeserializer<Object> deserializer = new AvroKafkaDeserializer<>();
        KafkaConsumer<byte[], byte[]> consumer =
            new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      deserializer.configure(serde, false);
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofMillis(timeoutMs))) {
        partitions.add(new TopicPartition(topic, info.partition()));
      }
      if (partitions.isEmpty()) throw new IllegalStateException("topic " + topic + " not found");
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long deadline = System.currentTimeMillis() + timeoutMs;
      long settleUntil = Long.MAX_VALUE;
      while (System.currentTimeMillis() < Math.min(deadline, settleUntil)) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
          // The consumer calls a value deserializer exactly so; called here, the raw bytes stay
          // at hand for the schema id.
          Object value =
              record.value() == null ? null : deserializer.deserialize(topic, record.headers(), record.value());
          line(out, record, value);
          count++;
        }
        if (count >= expected && settleUntil == Long.MAX_VALUE) {
          settleUntil = System.currentTimeMillis() + settleMs;
        }
      }
      timedOut = count < expected;
    }
    stdout.print(out);
    stdout.println("{\"done\":true,\"count\":" + count + ",\"timedOut\":" + timedOut + "}");
    stdout.flush();
  }

  private static void line(StringBuilder out, ConsumerRecord<byte[], byte[]> record, Object value) {
    out.append("{\"partition\":").append(record.partition());
    out.append(",\"offset\":").append(record.offset());
    out.append(",\"key\":");
    string(out, text(record.key()));
    out.append(",\"schemaId\":");
    byte[] raw = record.value();
    if (raw == null) out.append("null");
    else {
      if (raw.length < 5 || raw[0] != 0) {
        throw new IllegalStateException(
            "offset " + record.offset() + ": not the Confluent wire format (magic byte 0, 4-byte id)");
      }
      out.append(ByteBuffer.wrap(raw, 1, 4).getInt());
    }
    out.append(",\"headers\":{");
    // Like a JSON object built in order, a repeated header name keeps its last value.
    Map<String, String> headers = new LinkedHashMap<>();
    for (Header header : record.headers()) headers.put(header.key(), text(header.value()));
    boolean first = true;
    for (Map.Entry<String, String> header : headers.entrySet()) {
      if (!first) out.append(',');
      first = false;
      string(out, header.getKey());
      out.append(':');
      string(out, header.getValue());
    }
    out.append("},\"value\":");
    if (value == null) out.append("null");
    else {
      GenericRecord row = (GenericRecord) value;
      json(out, row.getSchema(), row);
    }
    out.append("}\n");
  }

  /** The datum as JSON, guided by its schema: the generic reader leaves logical types undone. */
  private static void json(StringBuilder out, Schema schema, Object datum) {
    switch (schema.getType()) {
      case UNION -> json(out, schema.getTypes().get(GenericData.get().resolveUnion(schema, datum)), datum);
      case NULL -> out.append("null");
      case RECORD -> {
        GenericRecord record = (GenericRecord) datum;
        out.append('{');
        boolean first = true;
        for (Schema.Field field : schema.getFields()) {
          if (!first) out.append(',');
          first = false;
          string(out, field.name());
          out.append(':');
          json(out, field.schema(), record.get(field.pos()));
        }
        out.append('}');
      }
      case ARRAY -> {
        out.append('[');
        boolean first = true;
        for (Object item : (Collection<?>) datum) {
          if (!first) out.append(',');
          first = false;
          json(out, schema.getElementType(), item);
        }
        out.append(']');
      }
      case MAP -> {
        out.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) datum).entrySet()) {
          if (!first) out.append(',');
          first = false;
          string(out, entry.getKey().toString());
          out.append(':');
          json(out, schema.getValueType(), entry.getValue());
        }
        out.append('}');
      }
      case STRING, ENUM -> string(out, datum.toString());
      case BYTES, FIXED -> bytes(out, schema, datum);
      case INT, LONG -> {
        if (datum instanceof Instant instant) {
          out.append(Math.addExact(Math.multiplyExact(instant.getEpochSecond(), 1_000_000L), instant.getNano() / 1000));
        } else out.append(((Number) datum).longValue());
      }
      // Through double, as Python holds a float: both print the same number.
      case FLOAT, DOUBLE -> out.append(((Number) datum).doubleValue());
      case BOOLEAN -> out.append(datum);
    }
  }

  private static void bytes(StringBuilder out, Schema schema, Object datum) {
    LogicalType logical = schema.getLogicalType();
    if (datum instanceof BigDecimal converted) {
      int scale = logical instanceof LogicalTypes.Decimal decimal ? decimal.getScale() : converted.scale();
      string(out, converted.setScale(scale).toPlainString());
      return;
    }
    byte[] bytes;
    if (datum instanceof GenericFixed fixed) bytes = fixed.bytes();
    else {
      ByteBuffer buffer = ((ByteBuffer) datum).duplicate();
      bytes = new byte[buffer.remaining()];
      buffer.get(bytes);
    }
    if (logical instanceof LogicalTypes.Decimal decimal) {
      // Big-endian two's complement unscaled value; toPlainString never uses exponent notation.
      string(out, new BigDecimal(new BigInteger(bytes), decimal.getScale()).toPlainString());
    } else string(out, Base64.getEncoder().encodeToString(bytes));
  }

  private static String text(byte[] bytes) {
    return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
  }

  private static void string(StringBuilder out, String text) {
    if (text == null) {
      out.append("null");
      return;
    }
    out.append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
          else out.append(c);
        }
      }
    }
    out.append('"');
  }
}
