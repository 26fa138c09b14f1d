import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads a topic from its beginning with Kafka's own Java consumer, the reference for
 * read_committed, so that the tests check what the connector wrote with a client other than the
 * one that wrote it. Every partition is assigned (no group, nothing committed). Prints one JSON
 * line per record, then a last line with the count and whether the wait ran out.
 *
 * Arguments: bootstrap servers, topic, records expected, timeout ms, settle ms (reading goes on
 * this long after the expected count to see extra records), isolation level, then any number of
 * client properties as name=value (security settings, for one).
 */
public final class TopicReader {
  public static void main(String[] args) {
    String bootstrap = args[0];
    String topic = args[1];
    long expected = Long.parseLong(args[2]);
    long timeoutMs = Long.parseLong(args[3]);
    long settleMs = Long.parseLong(args[4]);
    String isolation = args[5];

    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    for (int i = 6; i < args.length; i++) {
      int equals = args[i].indexOf('=');
      props.put(args[i].substring(0, equals), args[i].substring(equals + 1));
    }

    long count = 0;
    boolean timedOut = false;
    StringBuilder out = new StringBuilder();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofMillis(timeoutMs))) {
        partitions.add(new TopicPartition(topic, info.partition()));
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long deadline = System.currentTimeMillis() + timeoutMs;
      long settleUntil = Long.MAX_VALUE;
      while (System.currentTimeMillis() < Math.min(deadline, settleUntil)) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
          line(out, record);
          count++;
        }
        if (out.length() > 0) {
          System.out.print(out);
          out.setLength(0);
        }
        if (count >= expected && settleUntil == Long.MAX_VALUE) {
          settleUntil = System.currentTimeMillis() + settleMs;
        }
      }
      timedOut = count < expected;
    }
    System.out.println("{\"done\":true,\"count\":" + count + ",\"timedOut\":" + timedOut + "}");
    System.out.flush();
  }

  private static void line(StringBuilder out, ConsumerRecord<byte[], byte[]> record) {
    out.append("{\"partition\":").append(record.partition());
    out.append(",\"offset\":").append(record.offset());
    out.append(",\"key\":").append(base64(record.key()));
    out.append(",\"value\":").append(base64(record.value()));
    out.append(",\"headers\":[");
    boolean first = true;
    for (Header header : record.headers()) {
      if (!first) out.append(',');
      first = false;
      // Header names go as base64 too: no JSON escaping to get wrong.
      out.append("[\"")
          .append(Base64.getEncoder().encodeToString(header.key().getBytes(java.nio.charset.StandardCharsets.UTF_8)))
          .append("\",")
          .append(base64(header.value()))
          .append(']');
    }
    out.append("]}\n");
  }

  private static String base64(byte[] bytes) {
    return bytes == null ? "null" : "\"" + Base64.getEncoder().encodeToString(bytes) + "\"";
  }
}
