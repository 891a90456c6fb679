#!/usr/bin/env bash
# The DashScope Java SDK for test/clients.test.ts: Maven resolves its classpath (into
# .cache/m2, ignored by git) and javac compiles the flows into .cache/java-flows. Prints the
# classpath to run them with. Safe to run again: it recompiles only when the sources change.
set -euo pipefail
cd "$(dirname "$0")/.."
project=test/clients/java
out=.cache/java-flows
mkdir -p "$out"
if [ ! -f "$out/classpath" ] || [ "$project/pom.xml" -nt "$out/classpath" ]; then
  mvn -q -B -f "$project/pom.xml" -Dmaven.repo.local="$PWD/.cache/m2" dependency:build-classpath -Dmdep.outputFile="$PWD/$out/classpath.new" >&2
  mv "$out/classpath.new" "$out/classpath"
fi
if [ ! -f "$out/TimbreFlows.class" ] || [ "$project/src/main/java/TimbreFlows.java" -nt "$out/TimbreFlows.class" ]; then
  javac -d "$out" -cp "$(cat "$out/classpath")" "$project/src/main/java/TimbreFlows.java" >&2
fi
echo "$PWD/$out:$(cat "$out/classpath")"
