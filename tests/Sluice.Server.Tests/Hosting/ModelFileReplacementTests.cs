using Sluice.Engine.Models;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Hosting;

/// <summary>
/// The served GGUF file overwritten in place (`cp other.gguf model.gguf`) or replaced by rename: the running
/// server keeps serving what it loaded (issue 16: the next request died on the memory-mapped file).
/// </summary>
public sealed class ModelFileReplacementTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-serve-replace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Serve_ModelFileReplaced_KeepsAnsweringAsBefore(bool inPlace)
    {
        string path = Path.Combine(_dir, "model.gguf");
        File.Copy(TestModels.TinyFile, path);
        await using var t = await TestServer.StartAsync(load: () => ModelLoader.Load(path));
        const string Request = """{"prompt": "replace the file", "max_tokens": 12, "temperature": 0}""";
        var (_, before, _) = await t.PostJsonAsync("/v1/completions", Request);

        string other = Path.Combine(_dir, "other.gguf");
        File.WriteAllBytes(other, new byte[4096]); // not even a model
        if (inPlace)
        {
            using var f = new FileStream(path, FileMode.Truncate, FileAccess.Write);
            f.Write(File.ReadAllBytes(other));
        }
        else
        {
            File.Move(other, path, overwrite: true);
        }

        for (int i = 0; i < 3; i++)
        {
            var (status, after, _) = await t.PostJsonAsync("/v1/completions", Request);
            Assert.Equal(200, status);
            Assert.Equal(before.GetProperty("choices")[0].GetProperty("text").GetString(), after.GetProperty("choices")[0].GetProperty("text").GetString());
        }
        var (ready, _, _) = await GetAsync(t, "/health/ready");
        Assert.Equal(200, ready);
    }

    private static async Task<(int, string, HttpResponseMessage)> GetAsync(TestServer t, string path)
    {
        var response = await t.Client.GetAsync(path);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }
}
