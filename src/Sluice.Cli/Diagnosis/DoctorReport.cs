using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sluice.Cli.Diagnosis;

/// <summary>What `sluice doctor` prints: the findings for a person, or one JSON object for scripts (--json).</summary>
internal sealed record DoctorReport(string Url, HealthInfo Health, DoctorNumbers Numbers, IReadOnlyList<Finding> Findings)
{
    public bool Healthy => Findings.All(f => f.Severity == Severity.Info);

    public string Text()
    {
        var n = Numbers;
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(string.Create(inv, $"sluice doctor: {Url} over {n.WindowSeconds:0.#} s; model {Health.Model ?? "?"} ({Health.State})"));
        sb.AppendLine(string.Create(inv,
            $"traffic: {n.Requests:0} requests ({n.RequestsPerSecond:0.##}/s), {n.Errors:0} errors; {n.GeneratedTokensPerSecond:0} tokens/s generated; {n.Running:0} running, {n.Waiting:0} waiting; KV cache {n.KvUsage * 100:0}%"));
        foreach (var f in Findings)
        {
            sb.AppendLine();
            sb.AppendLine($"DIAGNOSIS: {f.Title}  [{f.Severity.ToString().ToLowerInvariant()}]");
            Block(sb, "evidence:", f.Evidence);
            Block(sb, "levers:", f.Levers);
            if (f.Runbook is { } runbook)
            {
                sb.AppendLine($"  runbook:  {runbook}");
            }
        }
        return sb.ToString();
    }

    public string Json()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("url", Url);
            w.WriteBoolean("healthy", Healthy);
            w.WriteString("state", Health.State);
            w.WriteString("model", Health.Model);
            w.WriteStartArray("findings");
            foreach (var f in Findings)
            {
                w.WriteStartObject();
                w.WriteString("symptom", f.Symptom);
                w.WriteString("title", f.Title);
                w.WriteString("severity", f.Severity.ToString().ToLowerInvariant());
                Strings(w, "evidence", f.Evidence);
                Strings(w, "levers", f.Levers);
                w.WriteString("runbook", f.Runbook);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WritePropertyName("numbers");
            JsonSerializer.Serialize(w, Numbers, DoctorJson.Default.DoctorNumbers);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Block(StringBuilder sb, string label, IReadOnlyList<string> lines)
    {
        for (int i = 0; i < lines.Count; i++)
        {
            sb.Append("  ").Append((i == 0 ? label : "").PadRight(10)).AppendLine(lines[i]);
        }
    }

    private static void Strings(Utf8JsonWriter w, string name, IReadOnlyList<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }
        w.WriteEndArray();
    }
}
