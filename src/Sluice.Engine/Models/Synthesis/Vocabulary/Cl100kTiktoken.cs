using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;

namespace Sluice.Engine.Models.Synthesis.Vocabulary;

/// <summary>
/// Reads OpenAI's cl100k_base ranks from the NuGet package Microsoft.ML.Tokenizers.Data.Cl100kBase, whose
/// assembly carries the .tiktoken data deflate-compressed as the manifest resource
/// "cl100k_base.tiktoken.deflate": a "Capacity: N" header, then one base64 token per line in rank order.
/// The resource is read straight from the PE file, so none of the package's code is loaded.
/// </summary>
public static class Cl100kTiktoken
{
    public const string AssemblyFile = "Microsoft.ML.Tokenizers.Data.Cl100kBase.dll";
    public const string ResourceName = "cl100k_base.tiktoken.deflate";

    /// <summary>Token bytes indexed by rank (ranks are 0..n-1 without gaps).</summary>
    public static byte[][] LoadRanks()
    {
        var path = Locate();
        using var deflated = new MemoryStream(ReadResource(path));
        using var inflated = new DeflateStream(deflated, CompressionMode.Decompress);
        using var reader = new StreamReader(inflated, Encoding.ASCII);
        var tokens = new List<byte[]>(100_256);
        string? line;
        while ((line = reader.ReadLine()) != null)
        {
            // ML.NET's copy starts with a "Capacity: N" line; base64 never contains ':'.
            if (line.Length == 0 || line.Contains(':', StringComparison.Ordinal))
            {
                continue;
            }
            // tiktoken files write "base64 rank"; ML.NET's copy leaves the rank implicit in the line order.
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            int rank = space < 0 ? tokens.Count : int.Parse(line.AsSpan(space + 1), System.Globalization.CultureInfo.InvariantCulture);
            if (rank != tokens.Count)
            {
                throw new InvalidDataException($"{ResourceName}: rank {rank} out of order at line {tokens.Count + 1}");
            }
            tokens.Add(Convert.FromBase64String(space < 0 ? line : line[..space]));
        }
        return [.. tokens];
    }

    private static string Locate()
    {
        string[] folders = [AppContext.BaseDirectory, Path.GetDirectoryName(typeof(Cl100kTiktoken).Assembly.Location) ?? ""];
        foreach (var folder in folders)
        {
            var candidate = Path.Combine(folder, AssemblyFile);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"{AssemblyFile} (NuGet package Microsoft.ML.Tokenizers.Data.Cl100kBase) is not beside the application; rebuild it, or pass a vocabulary file");
    }

    private static byte[] ReadResource(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            if (!resource.Implementation.IsNil || metadata.GetString(resource.Name) != ResourceName)
            {
                continue;
            }
            // Embedded resources live in the CLI resources directory, each as a 4-byte length and the bytes.
            var directory = pe.PEHeaders.CorHeader!.ResourcesDirectory;
            var section = pe.GetSectionData(directory.RelativeVirtualAddress);
            var reader = section.GetReader((int)resource.Offset, directory.Size - (int)resource.Offset);
            int length = reader.ReadInt32();
            return reader.ReadBytes(length);
        }
        throw new InvalidDataException($"{assemblyPath} has no resource {ResourceName}");
    }
}
