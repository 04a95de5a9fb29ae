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
        model.Subcommands.Add(SynthCommand.Create());
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
                parse.InvocationConfiguration.Output.Write(Describe(gguf));
                return 0;
            }
            catch (ModelFormatException ex)
            {
                parse.InvocationConfiguration.Error.WriteLine("error: " + ex.Message);
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
        AppendShape(sb, gguf);
        AppendTokenizer(sb, gguf);
        return sb.ToString();
    }

    private static void AppendShape(System.Text.StringBuilder sb, GgufFile gguf)
    {
        var arch = gguf.GetString("general.architecture");
        long? Hp(string key) => arch == null ? null : gguf.GetInt($"{arch}.{key}");
        var width = Hp("embedding_length");
        var heads = Hp("attention.head_count");
        if (width == null || heads == null)
        {
            return;
        }
        var headDim = heads > 0 ? $" (head dim {width / heads})" : "";
        sb.AppendLine($"shape:         {width} wide, {Hp("block_count")} layers, {heads}/{Hp("attention.head_count_kv") ?? heads} heads{headDim}, " +
            $"ffn {Hp("feed_forward_length")}, context {Hp("context_length")}");
        var output = gguf.TryGetTensor("output.weight", out _) ? "separate output.weight" : "tied to token_embd";
        sb.AppendLine($"output:        {output}");
    }

    private static void AppendTokenizer(System.Text.StringBuilder sb, GgufFile gguf)
    {
        var tokens = gguf.GetArray<string>("tokenizer.ggml.tokens");
        if (tokens == null)
        {
            sb.AppendLine("tokenizer:     (none)");
            return;
        }
        var model = gguf.GetString("tokenizer.ggml.model") ?? "?";
        var pre = gguf.GetString("tokenizer.ggml.pre") ?? "default";
        var template = gguf.GetString("tokenizer.chat_template") != null ? "yes" : "no";
        sb.AppendLine($"vocab:         {tokens.Length:N0} tokens");
        sb.AppendLine($"tokenizer:     {model}, pre-tokenizer {pre}, chat template: {template}");
    }
}
