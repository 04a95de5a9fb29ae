using System.Text.Json.Serialization;

namespace Sluice.Server.Observability.Memory;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(MemoryReport))]
[JsonSerializable(typeof(GcReport))]
internal sealed partial class MemoryJson : JsonSerializerContext;
