using System.Text.Json.Serialization;

namespace Sluice.Cli.Diagnosis;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(DoctorNumbers))]
internal sealed partial class DoctorJson : JsonSerializerContext;
