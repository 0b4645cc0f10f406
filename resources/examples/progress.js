#!/usr/bin/env node
// Example Jobdeck job in Node.js, talking the channel protocol directly (no library):
// newline-delimited JSON on the Unix socket named by JOBDECK_CHANNEL.
//
//     node progress.js [--steps N] [--delay MS] [--fail-at STEP]
//
// With --fail-at it reports a failure at that step and exits with status 1.
// Outside Jobdeck (no JOBDECK_CHANNEL) it prints "42% ..." lines instead.
'use strict';

const net = require('node:net');

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

/** The connection to Jobdeck, or a stand-in that prints when there is none. */
function openChannel() {
  const { JOBDECK_CHANNEL: path, JOBDECK_JOB_ID: jobId, JOBDECK_TOKEN: token } = process.env;
  const channel = { cancelled: false, send: () => {}, close: async () => {} };
  if (!path || !jobId || !token) {
    channel.send = (type, fields) => {
      if (type === 'progress') console.log(`${fields.current}/${fields.total} ${fields.message}`);
      if (type === 'log') console.error(`${fields.level}: ${fields.message}`);
      if (type === 'failed') console.error(`error: ${fields.error}`);
    };
    return channel;
  }
  const socket = net.createConnection(path);
  socket.on('error', (err) => console.error(`jobdeck channel: ${err.message}`));
  let pending = '';
  socket.on('data', (chunk) => {
    pending += chunk.toString('utf8');
    let newline;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      try {
        if (JSON.parse(line).type === 'cancel') channel.cancelled = true;
      } catch {
        // not ours to judge: ignore a line we cannot read
      }
    }
  });
  channel.send = (type, fields = {}) => {
    const message = { type, jobId, timestamp: Date.now() / 1000, ...fields };
    socket.write(JSON.stringify(message) + '\n');
  };
  const interval = Number(process.env.JOBDECK_HEARTBEAT_INTERVAL || 10) * 1000;
  const heartbeat = setInterval(() => channel.send('heartbeat'), interval);
  heartbeat.unref();
  channel.close = () =>
    new Promise((resolve) => {
      clearInterval(heartbeat);
      socket.end(resolve); // resolves once everything written has been flushed
    });
  channel.send('hello', { token });
  return channel;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const steps = option('steps', 10);
  const delay = option('delay', 0);
  const failAt = option('fail-at', 0);
  const job = openChannel();
  job.send('started');
  job.send('log', { level: 'info', message: `counting to ${steps}` });
  let exitCode = 0;
  try {
    for (let step = 1; step <= steps; step++) {
      if (job.cancelled) {
        job.send('log', { level: 'warning', message: `cancelled at step ${step}` });
        exitCode = 1;
        return;
      }
      if (step === failAt) throw new Error(`step ${step} failed on purpose (--fail-at)`);
      await sleep(delay);
      job.send('progress', { current: step, total: steps, message: `step ${step} of ${steps}` });
    }
    job.send('log', { level: 'info', message: 'all steps done' });
    job.send('completed', { result: { steps } });
  } catch (err) {
    job.send('failed', { error: err.message, stack: err.stack });
    exitCode = 1;
  } finally {
    await job.close();
    process.exitCode = exitCode;
  }
}

main();
