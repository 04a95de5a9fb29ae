using System.CommandLine;
using System.Globalization;
using System.Text;
using Sluice.Cli.Capacity;
using Sluice.Cli.Options;
using Sluice.Engine.Caching;
using Sluice.Engine.Models;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice capacity --model PATH`: the memory a model needs at a load (weights, KV cache by cache type, step
/// buffers), what fits in --memory, and the `serve` flags that match. Exit 0 when the load fits (or no
/// --memory is given), 1 when it does not, 2 on bad input.
/// </summary>
internal sealed class CapacityCommand
{
    private readonly Option<string> _model = new("--model", "-m") { Description = "GGUF file or Hugging Face folder", Required = true };
    private readonly Option<int> _concurrency = Flags.Int("--concurrency", 64, 1, 1 << 16, "Sequences running at once (serve's --max-num-seqs)");
    private readonly Option<int> _prompt = Flags.Int("--prompt-tokens", 1024, 1, 1 << 24, "Prompt tokens per sequence");
    private readonly Option<int> _output = Flags.Int("--output-tokens", 256, 0, 1 << 24, "Output tokens per sequence");
    private readonly Option<string?> _memory = new("--memory") { Description = "Memory to fit in, e.g. 16GiB: reports the largest concurrency and context that fit" };
    private readonly Option<string> _kvType = new("--kv-cache-dtype") { Description = "f16, f32 or q8_0", DefaultValueFactory = _ => "f16" };
    private readonly Option<int> _blockSize = Flags.Int("--block-size", 16, 1, 1024, "Tokens per KV block");
    private readonly Option<int> _batched = Flags.Int("--max-num-batched-tokens", 512, 1, 1 << 20, "Tokens per engine step (sizes the step buffers)");

    public static Command Create() => new CapacityCommand().Build();

    private Command Build()
    {
        var cmd = new Command("capacity", "Memory for a model at a load (weights, KV cache, step buffers), what fits in --memory, and the matching serve flags.")
        {
            _model, _concurrency, _prompt, _output, _memory, _kvType, _blockSize, _batched,
        };
        cmd.SetAction(parse => CliErrors.Run(parse, () => Run(parse)));
        return cmd;
    }

    private int Run(ParseResult parse)
    {
        var stdout = parse.InvocationConfiguration.Output;
        string path = parse.GetValue(_model)!;
        var type = parse.GetValue(_kvType)!.ToLowerInvariant() switch
        {
            "f16" or "auto" => KvCacheType.F16,
            "f32" => KvCacheType.F32,
            "q8_0" or "fp8" => KvCacheType.Q8_0,
            var t => throw new FormatException($"--kv-cache-dtype '{t}': use f16, f32 or q8_0"),
        };
        long? memory = parse.GetValue(_memory) is { } m ? ByteSize.Parse(m, "--memory") : null;
        var load = new CapacityLoad(parse.GetValue(_concurrency), parse.GetValue(_prompt), parse.GetValue(_output), parse.GetValue(_blockSize), type, parse.GetValue(_batched));
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            throw new FileNotFoundException($"--model '{path}': no such file or folder", path);
        }
        using var model = ModelLoader.Load(ModelSource.Resolve(path));
        long weights = model.WeightBytes + (model.Weights.TiedOutput ? 0 : model.Weights.TokenEmbedding.ByteSize);
        var plan = CapacityPlan.Compute(model.Config, weights, load, memory);
        stdout.Write(Describe(plan, path));
        if (plan.MaxConcurrency == 0)
        {
            parse.InvocationConfiguration.Error.WriteLine(
                $"error: cannot fit: even one sequence of {load.Context} tokens needs more than --memory {memory:N0} bytes (weights alone take {weights:N0})");
        }
        return plan.Fits ? 0 : 1;
    }

    internal static string Describe(CapacityPlan p, string path)
    {
        var c = p.Config;
        var l = p.Load;
        var s = new StringBuilder();
        s.AppendLine(Inv($"model:          {path}: {c.Architecture}, {c.BlockCount} layers, {c.HeadCountKv} KV heads x {c.HeadDim}, context {c.ContextLength}"));
        s.AppendLine(Inv($"weights:        {Bytes(p.WeightBytes)}"));
        var perToken = new List<string>();
        foreach (var (t, name) in new[] { (KvCacheType.F16, "f16"), (KvCacheType.F32, "f32"), (KvCacheType.Q8_0, "q8_0") })
        {
            string value = CapacityPlan.KvBytesPerToken(c, t) is { } b ? Inv($"{b:N0} B") : "n/a";
            perToken.Add((t == l.CacheType ? "*" : "") + name + " " + value);
        }
        s.AppendLine("KV per token:   " + string.Join(", ", perToken) + "  (* = --kv-cache-dtype)");
        s.AppendLine(Inv($"load:           {l.Concurrency} sequences x ({l.PromptTokens} prompt + {l.OutputTokens} output) tokens, blocks of {l.BlockSize}"));
        s.AppendLine(Inv($"KV cache:       {Bytes(p.KvBytes)}"));
        s.AppendLine(Inv($"step buffers:   {Bytes(p.StepBytes)}  (--max-num-batched-tokens {l.MaxNumBatchedTokens})"));
        s.AppendLine(Inv($"total:          {Bytes(p.TotalBytes)}"));
        int concurrency = l.Concurrency;
        long kv = p.KvBytes;
        if (p.Memory is { } memory)
        {
            s.AppendLine(Inv($"memory:         {Bytes(memory)}: {(p.Fits ? "fits" : "DOES NOT FIT")}"));
            s.AppendLine(Inv($"largest concurrency at {l.Context} tokens: {p.MaxConcurrency}"));
            s.AppendLine(Inv($"largest context at {l.Concurrency} sequences: {p.MaxContext} tokens"));
            if (!p.Fits)
            {
                concurrency = p.MaxConcurrency!.Value;
                kv = p.KvBytes / l.Concurrency * concurrency;
            }
        }
        if (concurrency > 0)
        {
            long mib = (kv + (1 << 20) - 1) >> 20;
            string dtype = l.CacheType switch { KvCacheType.F32 => "f32", KvCacheType.Q8_0 => "q8_0", _ => "f16" };
            s.AppendLine(Inv($"serve flags:    --model {path} --max-num-seqs {concurrency} --max-model-len {l.Context} --kv-cache-memory {mib}MiB --kv-cache-dtype {dtype} --block-size {l.BlockSize} --max-num-batched-tokens {l.MaxNumBatchedTokens}"));
        }
        return s.ToString();
    }

    private static string Bytes(long b) => Inv($"{b:N0} bytes ({b / (double)(1L << 30):0.00} GiB)");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
