"""gRPC server reflection under both names clients use: grpc.reflection.v1 (grpcurl, Postman) and v1alpha.

grpcio-reflection ships only v1alpha. The v1 service is the same protocol (same messages, same field
numbers) under another package, so one servicer answers both: v1 calls are decoded with the v1alpha
messages, and the v1 file, made from the v1alpha one with its package renamed, is in the descriptor pool
so clients can describe the v1 service too.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1ALPHA_NAME = reflection.SERVICE_NAME
V1_PACKAGE = "grpc.reflection.v1"
V1_NAME = f"{V1_PACKAGE}.ServerReflection"
_V1_FILE = "grpc/reflection/v1/reflection.proto"


def _add_v1_file(pool: descriptor_pool.DescriptorPool) -> None:
    try:
        pool.FindFileByName(_V1_FILE)
        return  # already there (another library registered it)
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    old = f".{file.package}."
    file.name, file.package = _V1_FILE, V1_PACKAGE
    file.options.Clear()
    for message in file.message_type:
        for f in message.field:
            if f.type_name.startswith(old):
                f.type_name = f".{V1_PACKAGE}.{f.type_name[len(old):]}"
    for method in file.service[0].method:
        method.input_type = f".{V1_PACKAGE}.{method.input_type[len(old):]}"
        method.output_type = f".{V1_PACKAGE}.{method.output_type[len(old):]}"
    pool.AddSerializedFile(file.SerializeToString())


def enable(server: grpc.Server, service_names: Iterable[str]) -> None:
    """Serve reflection for `service_names` (and the reflection services themselves) as v1 and v1alpha."""
    pool = descriptor_pool.Default()
    _add_v1_file(pool)
    servicer = reflection.ReflectionServicer((*service_names, V1_NAME, V1ALPHA_NAME), pool=pool)
    info = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    server.add_generic_rpc_handlers(tuple(
        grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": info}) for name in (V1_NAME, V1ALPHA_NAME)))
