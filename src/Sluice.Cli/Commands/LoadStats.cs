using System.Diagnostics;
using System.Globalization;
using Sluice.Engine.Models;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice model info PATH --load-stats`: loads the model as a server would and reports the time and
/// the process's resident memory before and after, split into anonymous (copied/converted) and
/// file-backed (mapped and touched) pages where the OS tells.
/// </summary>
internal static class LoadStats
{
    public static string Measure(string path, ModelLoadOptions options)
    {
        GC.Collect();
        var before = Resident.Read();
        var clock = Stopwatch.StartNew();
        using var model = ModelLoader.Load(path, options);
        double seconds = clock.Elapsed.TotalSeconds;
        GC.Collect();
        var after = Resident.Read();
        return string.Create(CultureInfo.InvariantCulture, $"""
            loaded:        {model.Format} ({(model.Format == "hf" ? "Hugging Face folder" : "GGUF file")}), {model.Name}{(options.Quantization is { } q ? ", quantized at load to " + q.Name : "")}
            load time:     {seconds:F2} s
            weights:       {model.WeightBytes / 1048576.0:F1} MiB of matrices
            resident:      before {before}, after {after}

            """);
    }

    /// <summary>Resident set in MiB from /proc/self/status (total, anonymous, file-backed), or the working set elsewhere.</summary>
    private readonly record struct Resident(double Total, double? Anonymous, double? File)
    {
        public static Resident Read()
        {
            const string Status = "/proc/self/status";
            if (!System.IO.File.Exists(Status))
            {
                return new Resident(Process.GetCurrentProcess().WorkingSet64 / 1048576.0, null, null);
            }
            double? Field(string[] lines, string name)
            {
                var line = lines.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.Ordinal));
                return line == null ? null : double.Parse(line[(name.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
            }
            var lines = System.IO.File.ReadAllLines(Status);
            return new Resident(Field(lines, "VmRSS") ?? 0, Field(lines, "RssAnon"), Field(lines, "RssFile"));
        }

        public override string ToString() => Anonymous is { } a && File is { } f
            ? string.Create(CultureInfo.InvariantCulture, $"{Total:F0} MiB (anonymous {a:F0}, file-backed {f:F0})")
            : string.Create(CultureInfo.InvariantCulture, $"{Total:F0} MiB");
    }
}
