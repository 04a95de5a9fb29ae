using System.Text.Json.Serialization;

namespace Sluice.Server.Health;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(ProbeReport))]
[JsonSerializable(typeof(VersionReport))]
[JsonSerializable(typeof(WarmupReport))]
[JsonSerializable(typeof(PrefixCacheResetReport))]
internal sealed partial class HealthJson : JsonSerializerContext;
