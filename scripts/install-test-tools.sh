#!/usr/bin/env bash
# What the tests need besides npm packages, installed from Debian's packages when missing (as root;
# otherwise it names what to install). Runs before `npm test`, and so on a fresh machine too.
set -euo pipefail

missing=()
need() { # need <package> <check command...>
  local package=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}

need openjdk-17-jre-headless command -v java
need maven command -v mvn
# test/ops: promtool and prometheus, docker-compose 1.29 (validates the compose file without an
# engine), yamllint, PyYAML for reading manifests, kubectl for `kubectl kustomize`.
need prometheus bash -c 'command -v promtool && command -v prometheus'
need docker-compose command -v docker-compose
need yamllint command -v yamllint
need python3-yaml /usr/bin/python3 -c "import yaml"
need kubernetes-client command -v kubectl
# test/support/avro-readers.ts: the Python Avro reader's virtualenv (Debian ships ensurepip apart).
need python3-venv python3 -c "import ensurepip, venv"

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-tools: missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "install-test-tools: installing ${missing[*]}" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
# Apicurio Registry 3.3 needs Java 21+; machines of this project's kind ship one under /usr/lib/jvm.
ls /usr/lib/jvm/*/bin/java >/dev/null 2>&1 || echo "install-test-tools: no JDK under /usr/lib/jvm; the schema registry needs Java 21+ (set JAVA_HOME)" >&2
