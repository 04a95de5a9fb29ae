using System.CommandLine;
using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Quantization;

namespace Sluice.Cli.Commands;

/// <summary>`sluice model ...`: inspect and make model files.</summary>
internal static class ModelCommands
{
    public static Command Create()
    {
        var model = new Command("model", "Inspect, verify and synthesize model files.");
        model.Subcommands.Add(CreateInfo());
        return model;
    }

    private static Command CreateInfo()
    {
        var file = new Argument<string>("file") { Description = "GGUF model file" };
        var cmd = new Command("info", "Print a model file's architecture, shape, quantization mix and tokenizer.") { file };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            try
            {
                using var gguf = GgufFile.Open(path);
                Console.Out.Write(Describe(gguf));
                return 0;
            }
            catch (ModelFormatException ex)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return 2;
            }
        });
        return cmd;
    }

    internal static string Describe(GgufFile gguf)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"file:          {gguf.FilePath}");
        sb.AppendLine($"size:          {gguf.FileSize:N0} bytes ({gguf.FileSize / 1048576.0:F1} MiB)");
        sb.AppendLine($"format:        GGUF v{gguf.Version}, {gguf.Tensors.Count} tensors, {gguf.Metadata.Count} metadata keys");
        sb.AppendLine($"architecture:  {gguf.GetString("general.architecture") ?? "(none)"}");
        long parameters = gguf.Tensors.Sum(t => t.ElementCount);
        sb.AppendLine($"parameters:    {parameters:N0}");
        var mix = gguf.Tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Sum(t => t.ByteSize))
            .Select(g => $"{GgmlTypeInfo.Name(g.Key)} x{g.Count()} ({g.Sum(t => t.ByteSize) / 1048576.0:F1} MiB)");
        sb.AppendLine($"tensor types:  {string.Join(", ", mix)}");
        return sb.ToString();
    }
}
