/**
 * Workflow histories to and from JSON: the proto3 JSON form that the SDK's `historyToJSON` writes
 * and `historyFromJSON` reads (enum names in full, 64-bit ids as strings, payloads in base64).
 *
 * Those two functions of @temporalio/common throw "type must be a Type" in this install: npm
 * hoists the protobufjs 7 that @grpc/proto-loader needs and gives @temporalio/proto and
 * @temporalio/common each their own copy of protobufjs 8, so the `instanceof Type` check in
 * common's copy rejects the types that proto's copy built. Loading protojson from where
 * @temporalio/proto resolves it keeps both on one copy, whatever npm hoists.
 */
import { createRequire } from 'node:module';
import type { History } from '@temporalio/common/lib/proto-utils';

export type { History };

interface ReflectedType {
  readonly fullName: string;
}
interface ProtoJson {
  toJson(type: ReflectedType, message: object): unknown;
  fromJson(type: ReflectedType, json: unknown, options?: { ignoreUnknownFields?: boolean }): object;
}
interface TemporalProto {
  temporal: { api: { history: { v1: { History: { fromObject(history: History): object } } } } };
}

// @temporalio/proto is reached through @temporalio/common (which depends on it) rather than
// imported, since this project does not depend on it directly. The shapes of these CommonJS
// modules are declared by the interfaces above.
const fromCommon = createRequire(createRequire(import.meta.url).resolve('@temporalio/common'));
const proto = fromCommon('@temporalio/proto') as TemporalProto;
const { patchProtobufRoot } = fromCommon('@temporalio/proto/lib/patch-protobuf-root') as {
  patchProtobufRoot: (root: TemporalProto) => { lookupType(path: string): ReflectedType };
};
const protojson = createRequire(fromCommon.resolve('@temporalio/proto'))(
  'protobufjs/ext/protojson',
) as ProtoJson;
const historyType = patchProtobufRoot(proto).lookupType('temporal.api.history.v1.History');

/** A history as JSON, indented for readable diffs, with a final newline. */
export function historyToJson(history: History): string {
  const message = proto.temporal.api.history.v1.History.fromObject(history);
  return `${JSON.stringify(protojson.toJson(historyType, message), null, 2)}\n`;
}

/** Parses a history written by `historyToJson` (or the SDK's `historyToJSON`). */
export function historyFromJson(json: unknown): History {
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}
