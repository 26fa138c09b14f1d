"""Reads an Avro topic with confluent-kafka's Consumer and its schema registry AvroDeserializer.

A reader that shares nothing with the connector (librdkafka for Kafka, fastavro for Avro, the
registry's Confluent-compatible API for the schema by the id in each value), so the tests check
what the connector wrote with a client other than the one that wrote it. Every partition is
assigned from its beginning (no group offsets are read or committed), read_committed. Prints one
JSON line per record, then a last line with the count and whether the wait ran out.

Arguments: bootstrap servers, Confluent-compatible registry URL, topic, records expected,
timeout ms, settle ms (reading goes on this long after the expected count to see extra records).

Values are normalised as test/support/java/AvroTopicReader.java does, so that both readers'
lines compare equal: decimals as plain text at the schema's scale, timestamp-micros as integer
microseconds, other bytes as base64.
"""

import base64
import datetime
import decimal
import json
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def normalise(value):
    """fastavro's decoded value as JSON: it applies the logical types, these undo them exactly."""
    if isinstance(value, dict):
        return {name: normalise(item) for name, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, decimal.Decimal):
        # fastavro builds the decimal with exponent -scale; "f" keeps every digit of it and never
        # switches to exponent notation as str() does ("1E-12").
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        # timedelta arithmetic is exact in integers; timestamp() would go through a float.
        delta = value - EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def text(data):
    return None if data is None else data.decode("utf-8", errors="replace")


def main():
    bootstrap, registry_url, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    expected = int(sys.argv[4])
    timeout_s = int(sys.argv[5]) / 1000
    settle_s = int(sys.argv[6]) / 1000
    sys.stdout.reconfigure(encoding="utf-8")

    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # librdkafka needs a group id even for assigned partitions; nothing is committed to it.
            "group.id": f"avro-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }
    )
    count = 0
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s)
        described = metadata.topics.get(topic)
        if described is None or described.error is not None or not described.partitions:
            raise SystemExit(f"topic {topic} not found: {described.error if described else 'no metadata'}")
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(described.partitions)])
        deadline = time.monotonic() + timeout_s
        settle_until = None
        while time.monotonic() < (deadline if settle_until is None else min(deadline, settle_until)):
            message = consumer.poll(0.2)
            if message is not None:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise SystemExit(f"consumer error: {error}")
                sys.stdout.write(json.dumps(line(topic, message, deserializer), ensure_ascii=False) + "\n")
                count += 1
            if count >= expected and settle_until is None:
                settle_until = time.monotonic() + settle_s
    finally:
        consumer.close()
    summary = {"done": True, "count": count, "timedOut": count < expected}
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()


def line(topic, message, deserializer):
    raw = message.value()
    headers = message.headers() or []
    value = None
    schema_id = None
    if raw is not None:
        if len(raw) < 5 or raw[0] != 0:
            raise SystemExit(f"offset {message.offset()}: not the Confluent wire format (magic byte 0, 4-byte id)")
        schema_id = int.from_bytes(raw[1:5], "big", signed=True)
        value = normalise(deserializer(raw, SerializationContext(topic, MessageField.VALUE, headers)))
    return {
        "partition": message.partition(),
        "offset": message.offset(),
        "key": text(message.key()),
        "schemaId": schema_id,
        "headers": {name: text(data) for name, data in headers},
        "value": value,
    }


if __name__ == "__main__":
    main()
