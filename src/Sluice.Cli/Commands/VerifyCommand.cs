using System.CommandLine;
using Sluice.Cli.Verification;
using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice model verify FILE [--sha256 HEX | --manifest FILE]`: checks a model file (or a folder's files) against
/// published SHA-256 sums, and that a GGUF file's tensors all lie within it (a truncated download fails here).
/// Exit 0 when everything matches, 1 on a mismatch or a damaged file, 2 on a usage error.
/// </summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "GGUF model file or Hugging Face model folder" };
        var sha256 = new Option<string?>("--sha256") { Description = "The expected SHA-256 of the file (64 hex digits)" };
        var manifest = new Option<string?>("--manifest") { Description = "A sha256sum-format file of expected sums (HEX  PATH per line)" };
        var cmd = new Command("verify", "Check a model file's SHA-256 (and a GGUF file's structure) before serving it.") { path, sha256, manifest };
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            string model = parse.GetValue(path)!;
            return CliErrors.Run(parse, () =>
            {
                bool ok = true;
                foreach (var r in ModelChecksum.Check(model, parse.GetValue(sha256), parse.GetValue(manifest)))
                {
                    string verdict = r.Expected is null ? "sha256" : r.Ok ? "OK" : "MISMATCH";
                    stdout.WriteLine($"{verdict,-8} {r.Actual}  {r.Path}");
                    if (!r.Ok)
                    {
                        stdout.WriteLine($"         expected {r.Expected}");
                        ok = false;
                    }
                }
                if (File.Exists(model) && model.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
                {
                    stdout.WriteLine(CheckStructure(model, out bool intact));
                    ok &= intact;
                }
                if (!ok)
                {
                    stderr.WriteLine($"error: {model} does not match: it is corrupt or not the file that was published; do not serve it");
                }
                return ok ? 0 : 1;
            });
        });
        return cmd;
    }

    /// <summary>Whether the GGUF header parses and every tensor's data lies inside the file.</summary>
    private static string CheckStructure(string file, out bool intact)
    {
        try
        {
            using var gguf = GgufFile.Open(file);
            var outside = gguf.Tensors.FirstOrDefault(t => gguf.DataOffset + t.Offset + t.ByteSize > gguf.FileSize);
            intact = outside is null;
            return intact
                ? $"OK       GGUF v{gguf.Version}: {gguf.Tensors.Count} tensors, all within the file's {gguf.FileSize:N0} bytes"
                : $"DAMAGED  tensor '{outside!.Name}' ends past the end of the file (truncated download?)";
        }
        catch (ModelFormatException ex)
        {
            intact = false;
            return $"DAMAGED  {ex.Message}";
        }
    }
}
