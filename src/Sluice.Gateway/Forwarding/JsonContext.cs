using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Sluice.Gateway.Management;

namespace Sluice.Gateway.Forwarding;

/// <summary>Source-generated JSON for what the gateway reads and writes itself.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonNode))]
[JsonSerializable(typeof(TrafficView))]
[JsonSerializable(typeof(TrafficUpdate))]
[JsonSerializable(typeof(PromoteBody))]
[JsonSerializable(typeof(HistoryView))]
[JsonSerializable(typeof(BackendsView))]
[JsonSerializable(typeof(CanaryView))]
[JsonSerializable(typeof(CacheFlushView))]
internal sealed partial class JsonContext : JsonSerializerContext;
