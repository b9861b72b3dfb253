#!/usr/bin/env node
// Cross-language interop check: a Node.js (@grpc/grpc-js + @grpc/proto-loader) client of
// sfdest.v1.DestinationService. It loads proto/sfdest/v1/destination.proto at run time (no
// generated code), calls Apply, Validate and ApplyStream against a running server, checks every result itself
// and prints one JSON summary on stdout. Exit codes: 0 all checks passed, 1 a check failed or an
// RPC failed, 2 bad command line.
//
//   node tests/node/client.js --target 127.0.0.1:50051 [--proto-root proto] [--instance-url URL]
//
// Field names are lowerCamelCase (keepCase: false), as in the proto3 JSON mapping used by
// tests/examples and as protobufjs's bundled well-known types (google.protobuf.Value's stringValue,
// structValue, ...) always are; enums travel as their names, int64 as decimal strings. The JSON
// summary on stdout is this script's own and uses snake_case keys.
'use strict';

const path = require('node:path');
const crypto = require('node:crypto');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const DEFAULT_PROTO_ROOT = path.resolve(__dirname, '..', '..', 'proto');
const PROTO_FILE = 'sfdest/v1/destination.proto';
const RPC_TIMEOUT_MS = 15000;

class CheckFailed extends Error {}

function usage(message) {
  process.stderr.write(`node-client: ${message}\n` +
    'usage: node client.js --target HOST:PORT [--proto-root DIR] [--instance-url URL]\n');
  process.exit(2);
}

function parseCommandLine(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        target: { type: 'string' },
        'proto-root': { type: 'string' },
        'instance-url': { type: 'string' },
      },
    });
  } catch (err) {
    usage(err.message);
  }
  const { values, positionals } = parsed;
  const target = values.target || positionals[0];
  if (!target) usage('a target is required');
  if (positionals.length > (values.target ? 0 : 1)) usage(`unexpected arguments: ${positionals.join(' ')}`);
  const unique = crypto.randomBytes(4).toString('hex');
  return {
    target,
    protoRoot: path.resolve(values['proto-root'] || DEFAULT_PROTO_ROOT),
    // A fresh org per run: the in-memory backend keys its orgs by instanceUrl.
    instanceUrl: values['instance-url'] || `https://interop-${unique}.my.salesforce.com`,
    unique,
  };
}

function loadService(protoRoot) {
  // google/protobuf/struct.proto is not under protoRoot: protobufjs ships the well-known types.
  const definition = protoLoader.loadSync(PROTO_FILE, {
    includeDirs: [protoRoot],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition);
  return pkg.sfdest.v1.DestinationService;
}

// A JSON value as google.protobuf.Value / Struct in proto-loader's object form.
function toValue(v) {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v) };
}

function toStruct(obj) {
  const fields = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = toValue(v);
  return { fields };
}

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + RPC_TIMEOUT_MS);
    client[method](request, { deadline }, (err, response) => {
      if (err) {
        const e = new Error(`${method} RPC failed: ${grpc.status[err.code] || err.code}: ${err.details || err.message}`);
        e.rpc = true;
        reject(e);
      } else {
        resolve(response);
      }
    });
  });
}

// An ApplyStream call: send `messages`, gather results by position and the closing summary.
function applyStream(client, messages) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + RPC_TIMEOUT_MS);
    const call = client.ApplyStream({ deadline });
    const got = { results: {}, summary: null, cpuByStep: [] };
    call.on('data', (response) => {
      for (const r of response.results) {
        if (r.position in got.results) reject(new CheckFailed(`ApplyStream: position ${r.position} answered twice`));
        got.results[r.position] = r.result;
      }
      if (response.summary) {
        got.summary = response.summary;
        got.cpuByStep = response.cpuByStep;
      }
    });
    call.on('error', (err) => {
      const e = new Error(`ApplyStream RPC failed: ${grpc.status[err.code] || err.code}: ${err.details || err.message}`);
      e.rpc = true;
      reject(e);
    });
    call.on('end', () => resolve(got));
    for (const message of messages) call.write(message);
    call.end();
  });
}

function expect(condition, message, actual) {
  if (!condition) {
    const shown = actual === undefined ? '' : `\n  actual: ${JSON.stringify(actual)}`;
    throw new CheckFailed(`${message}${shown}`);
  }
}

function expectResult(result, want, where) {
  for (const [key, value] of Object.entries(want)) {
    expect(result[key] === value, `${where}: expected ${key}=${JSON.stringify(value)}`, result);
  }
}

async function run(options) {
  const DestinationService = loadService(options.protoRoot);
  const client = new DestinationService(options.target, grpc.credentials.createInsecure());
  await new Promise((resolve, reject) => {
    client.waitForReady(new Date(Date.now() + RPC_TIMEOUT_MS), (err) =>
      err ? reject(new Error(`cannot connect to ${options.target}: ${err.message}`)) : resolve());
  });

  const connection = { instanceUrl: options.instanceUrl };
  const email = `ada.${options.unique}@interop.example`;
  // The contract's upsert example (tests/examples/lead-upsert.json): match Leads on Email.
  const upsertLead = {
    object: 'Lead',
    operation: 'OPERATION_UPSERT',
    recordMatchers: [
      { field: 'Email', value: { firstOf: { paths: ['traits.email', 'properties.email'] } } },
    ],
    preset: 'PRESET_LEAD',
  };
  const identify = (traits) => ({ type: 'identify', userId: `u-${options.unique}`, traits });
  const summary = { target: options.target, instance_url: options.instanceUrl, apply: [], validate: null };

  try {
    // 1. A new email: 201 CREATED. The payload travels as a google.protobuf.Struct.
    const first = await call(client, 'Apply', {
      connection,
      action: upsertLead,
      events: [{
        id: 'create-1',
        payload: toStruct(identify({ email, first_name: 'Ada', last_name: 'Lovelace', company: 'Analytical Engines' })),
      }],
    });
    expect(first.results.length === 1, 'first Apply: expected exactly 1 result', first.results);
    const created = first.results[0];
    expectResult(created, { eventId: 'create-1', status: 201, outcome: 'OUTCOME_CREATED' }, 'first Apply');
    expect(typeof created.recordId === 'string' && created.recordId.length > 0,
      'first Apply: expected a recordId', created);
    summary.apply.push(summarise('create', first));

    // 2. The same email again: 200 UPDATED, same record. The payload travels as JSON text.
    const second = await call(client, 'Apply', {
      connection,
      action: upsertLead,
      events: [{
        id: 'update-1',
        payloadJson: JSON.stringify(identify({ email, last_name: 'Lovelace', company: 'Difference Engines' })),
      }],
    });
    expect(second.results.length === 1, 'second Apply: expected exactly 1 result', second.results);
    expectResult(second.results[0],
      { eventId: 'update-1', status: 200, outcome: 'OUTCOME_UPDATED', recordId: created.recordId },
      'second Apply');
    summary.apply.push(summarise('update', second));

    // 3. One batch: a matcher value that is an object (invalid: 400) beside a good event (200).
    const third = await call(client, 'Apply', {
      connection,
      action: upsertLead,
      events: [
        { id: 'bad-1', payloadJson: JSON.stringify(identify({ email: { not: 'an email' }, last_name: 'X', company: 'Y' })) },
        { id: 'good-1', payload: toStruct(identify({ email, first_name: 'Augusta', last_name: 'Lovelace', company: 'Difference Engines' })) },
      ],
    });
    expect(third.results.length === 2, 'mixed Apply: expected 2 results in request order', third.results);
    const [bad, good] = third.results;
    expectResult(bad, { eventId: 'bad-1', status: 400, outcome: 'OUTCOME_INVALID', retryable: false }, 'mixed Apply, invalid event');
    expect(bad.error && typeof bad.error.code === 'string' && bad.error.code.length > 0,
      'mixed Apply, invalid event: expected an error code', bad);
    expectResult(good,
      { eventId: 'good-1', status: 200, outcome: 'OUTCOME_UPDATED', recordId: created.recordId },
      'mixed Apply, neighbour of the invalid event');
    summary.apply.push(summarise('mixed', third));

    // 4. An invalid action (a field Lead lacks): each event answers 400 INVALID_ACTION and points, by index,
    //    to the problem the response lists once with its field path.
    const invalid = await call(client, 'Apply', {
      connection,
      action: { ...upsertLead, fieldMappings: [{ field: 'Shoe_Size__c', value: { path: 'traits.shoe' } }] },
      events: [{ id: 'inv-1', payloadJson: JSON.stringify(identify({ email })) },
        { id: 'inv-2', payloadJson: JSON.stringify(identify({ email })) }],
    });
    for (const r of invalid.results) {
      expectResult(r, { status: 400, outcome: 'OUTCOME_INVALID' }, 'invalid action');
      expect(r.error && r.error.code === 'INVALID_ACTION', 'invalid action: expected INVALID_ACTION', r);
      const pointed = r.diagnosticIndexes.map((i) => invalid.diagnostics[i]);
      expect(pointed.length === 1 && pointed[0].fieldPath === 'action.field_mappings[0].field',
        'invalid action: expected the result to point to the unknown field', { r, diagnostics: invalid.diagnostics });
    }
    summary.apply.push(summarise('invalid', invalid));

    // 5. Validate: Lead.Description is a long text area, which SOQL cannot filter on.
    const validation = await call(client, 'Validate', {
      connection,
      action: {
        object: 'Lead',
        operation: 'OPERATION_UPSERT',
        recordMatchers: [{ field: 'Description', value: { path: 'traits.note' } }],
        preset: 'PRESET_LEAD',
      },
    });
    expect(validation.valid === false, 'Validate: expected valid=false', validation);
    const diagnostic = validation.diagnostics.find((d) => d.code === 'FIELD_NOT_FILTERABLE');
    expect(diagnostic !== undefined, 'Validate: expected a FIELD_NOT_FILTERABLE diagnostic', validation.diagnostics);
    expectResult(diagnostic,
      { fieldPath: 'action.record_matchers[0].field', severity: 'SEVERITY_ERROR' }, 'Validate diagnostic');
    summary.validate = {
      valid: validation.valid,
      diagnostics: validation.diagnostics.map((d) => ({ severity: d.severity, code: d.code, field_path: d.fieldPath })),
    };

    // 6. ApplyStream: the first message names the connection and the action, three more carry events; every
    //    event answers once, by its position in the stream, then a summary closes the stream.
    const messages = [{ connection, action: upsertLead }];
    for (let m = 0; m < 3; m += 1) {
      messages.push({
        events: [0, 1].map((i) => ({
          id: `stream-${m}-${i}`,
          payloadJson: JSON.stringify(identify(m === 1 && i === 0
            ? { email: { not: 'an email' }, last_name: 'X', company: 'Y' }
            : { email: `s${m}${i}.${options.unique}@interop.example`, last_name: 'Stream', company: 'Z' })),
        })),
      });
    }
    const streamed = await applyStream(client, messages);
    const positions = Object.keys(streamed.results).map(Number).sort((a, b) => a - b);
    expect(positions.join() === '0,1,2,3,4,5', 'ApplyStream: expected one result per position', positions);
    expect(streamed.summary !== null && streamed.summary.backend === 'memory',
      'ApplyStream: expected a closing summary', streamed.summary);
    summary.stream = {
      statuses: positions.map((p) => streamed.results[p].status),
      event_ids: positions.map((p) => streamed.results[p].eventId),
      salesforce_api_calls: streamed.summary.salesforceApiCalls,
      steps: streamed.cpuByStep.map((s) => s.step),
    };
  } finally {
    client.close();
  }
  summary.ok = true;
  return summary;
}

function summarise(step, response) {
  return {
    step,
    statuses: response.results.map((r) => r.status),
    outcomes: response.results.map((r) => r.outcome),
    event_ids: response.results.map((r) => r.eventId),
    record_ids: response.results.map((r) => r.recordId),
    error_codes: response.results.map((r) => (r.error ? r.error.code : '')),
    salesforce_api_calls: response.salesforceApiCalls,
    backend: response.backend,
    diagnostic_indexes: response.results.map((r) => r.diagnosticIndexes),
    diagnostics: response.diagnostics.map((d) => ({ severity: d.severity, code: d.code, field_path: d.fieldPath })),
  };
}

if (require.main === module) {
  const options = parseCommandLine(process.argv.slice(2));
  run(options).then(
    (summary) => {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    },
    (err) => {
      const kind = err instanceof CheckFailed ? 'check failed' : 'error';
      process.stderr.write(`node-client: ${kind}: ${err.message}\n`);
      process.stdout.write(`${JSON.stringify({ ok: false, error: err.message })}\n`);
      process.exitCode = 1;
    },
  );
}

module.exports = { run, loadService, toStruct, toValue };
