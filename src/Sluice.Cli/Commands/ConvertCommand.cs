using System.CommandLine;
using System.Globalization;
using Sluice.Engine.Models.HuggingFace.Conversion;
using Sluice.Engine.Models.Synthesis;

namespace Sluice.Cli.Commands;

/// <summary>`sluice model convert DIR --output FILE.gguf [--type T]`: a Hugging Face folder as a GGUF file.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "Hugging Face model folder (config.json, tokenizer.json, *.safetensors)" };
        var output = new Option<string>("--output", "-o") { Description = "GGUF file to write", Required = true };
        var type = new Option<string>("--type") { Description = $"Weight type: {string.Join(", ", WeightMix.All.Select(m => m.Name))}", DefaultValueFactory = _ => WeightMix.F16.Name };
        var cmd = new Command("convert", "Write a Hugging Face folder as a GGUF file (llama.cpp's names, q/k permutation and tokenizer keys).") { folder, output, type };
        cmd.SetAction(parse =>
        {
            return CliErrors.Run(parse, () =>
            {
                if (!WeightMix.TryParse(parse.GetValue(type)!, out var mix))
                {
                    throw new ArgumentException($"unknown type '{parse.GetValue(type)}' (known: {string.Join(", ", WeightMix.All.Select(m => m.Name))})");
                }
                var result = GgufConverter.Convert(parse.GetValue(folder)!, parse.GetValue(output)!, mix);
                parse.InvocationConfiguration.Output.Write(string.Create(CultureInfo.InvariantCulture, $"""
                    wrote {result.Path}
                      type:   {mix.Name} ({result.TypeSummary})
                      size:   {result.FileBytes:N0} bytes ({result.FileBytes / 1048576.0:F1} MiB), {result.TensorCount} tensors
                      time:   {result.Elapsed.TotalSeconds:F1} s

                    """));
                return 0;
            });
        });
        return cmd;
    }
}
