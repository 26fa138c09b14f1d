import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ErrorCode, isPstnError } from "../../../src/errors.js";
import {
  isOurProcess,
  isPortFree,
  requirePortsFree,
  spawnServer,
  stopProcess,
  waitUntilReady,
} from "../../../tools/stack/processes.js";

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  return { server, port: address.port };
}

test("a port in use is reported by number and role", async (t) => {
  const { server, port } = await listen();
  t.after(() => server.close());
  assert.equal(await isPortFree(port), false);
  await assert.rejects(requirePortsFree([{ port, role: "schema registry" }]), (error) => {
    assert.ok(isPstnError(error, ErrorCode.STACK_PORT_IN_USE));
    assert.match(
      error.message,
      new RegExp(`^port ${port} on 127\\.0\\.0\\.1 \\(schema registry\\) is in use`),
    );
    return true;
  });
});

test("a free port is free", async () => {
  const { server, port } = await listen();
  await new Promise((resolve) => server.close(resolve));
  assert.equal(await isPortFree(port), true);
});

async function logFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), "pstn-proc-")), "server.log");
}

test("a server that never answers times out, naming the log file", async (t) => {
  const marker = `-Dpstn.test=${process.pid}-silent`;
  const log = await logFile();
  const pid = spawnServer(process.execPath, ["-e", "setInterval(() => {}, 1000)", "--", marker], {
    logFile: log,
  });
  t.after(() => stopProcess(pid, marker, 1000));
  assert.equal(isOurProcess(pid, marker), true);
  assert.equal(isOurProcess(pid, "-Dpstn.test=someone-else"), false);
  await assert.rejects(
    waitUntilReady([{ what: "silent server", pid, marker, logFile: log, probe: async () => false }], 600),
    (error) => {
      assert.ok(isPstnError(error, ErrorCode.STACK_START_TIMEOUT));
      assert.equal(error.message, `silent server did not become ready within 1s; read ${log}`);
      return true;
    },
  );
});

test("a server that exits during start-up is reported at once, naming the log file", async () => {
  const marker = `-Dpstn.test=${process.pid}-dying`;
  const log = await logFile();
  const pid = spawnServer(
    process.execPath,
    ["-e", "console.log('starting'); setTimeout(() => process.exit(3), 300)", "--", marker],
    {
      logFile: log,
    },
  );
  const started = Date.now();
  await assert.rejects(
    waitUntilReady([{ what: "dying server", pid, marker, logFile: log, probe: async () => false }], 30_000),
    (error) => {
      assert.ok(isPstnError(error, ErrorCode.STACK_START_FAILED));
      assert.equal(error.message, `dying server exited during start-up; read ${log}`);
      return true;
    },
  );
  assert.ok(Date.now() - started < 10_000);
  assert.equal(await readFile(log, "utf8"), "starting\n", "the server ran and its output went to the log");
});

test("stopProcess ends the process and only a process carrying the marker", async () => {
  const marker = `-Dpstn.test=${process.pid}-stoppable`;
  const pid = spawnServer(process.execPath, ["-e", "setInterval(() => {}, 1000)", "--", marker], {
    logFile: await logFile(),
  });
  await stopProcess(pid, "-Dpstn.test=not-this-one", 100);
  assert.equal(isOurProcess(pid, marker), true, "a wrong marker must not stop it");
  await stopProcess(pid, marker, 2000);
  assert.equal(isOurProcess(pid, marker), false);
});
