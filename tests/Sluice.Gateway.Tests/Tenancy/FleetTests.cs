using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tests.Support;
using Xunit.Abstractions;

namespace Sluice.Gateway.Tests.Tenancy;

/// <summary>Two `sluice gateway` processes sharing PostgreSQL (and Redis): keys and limits hold across the fleet.</summary>
[Collection(TenancyCollection.Name)]
public sealed class FleetTests(TenancyServers servers, ITestOutputHelper output) : IAsyncLifetime
{
    private FaultyBackend _backend = null!;
    private readonly List<string> _files = [];

    public async Task InitializeAsync() => _backend = await FaultyBackend.StartAsync();

    public async Task DisposeAsync()
    {
        await _backend.DisposeAsync();
        foreach (string file in _files)
        {
            File.Delete(file);
        }
    }

    private async Task<(GatewayProcess A, GatewayProcess B)> StartTwoAsync(string tenancy)
    {
        string config = Path.GetTempFileName();
        _files.Add(config);
        await File.WriteAllTextAsync(config, Tenants.Config(_backend.Url, tenancy));
        var a = await GatewayProcess.StartAsync(config);
        var b = await GatewayProcess.StartAsync(config);
        return (a, b);
    }

    private async Task<string> SharedStoresAsync(bool redis = true, string failMode = "closed", RedisServer? ownRedis = null, PostgresServer? ownPostgres = null)
    {
        string database = await (ownPostgres ?? await servers.PostgresAsync()).CreateDatabaseAsync();
        string lines = $"  database: \"{database}\"\n  fail_mode: {failMode}";
        if (redis)
        {
            lines += $"\n  redis: \"{(ownRedis ?? await servers.RedisAsync()).ConnectionString}\"";
        }
        return lines;
    }

    private static async Task<int> StatusAsync(GatewayProcess gateway, string secret, string model = "demo") =>
        (await Tenants.SendAsync(gateway.Client, Tenants.Completion(secret, model))).Status;

    /// <summary>Seconds from now until <paramref name="gateway"/> answers <paramref name="status"/> for the key (at most 10 s of trying).</summary>
    private static async Task<double> SecondsUntilAsync(GatewayProcess gateway, string secret, int status)
    {
        var clock = Stopwatch.StartNew();
        while (await StatusAsync(gateway, secret) != status && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20);
        }
        return clock.Elapsed.TotalSeconds;
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Revoke_OnOneGateway_TheOtherRefusesWithinASecond(bool redis)
    {
        var (a, b) = await StartTwoAsync(await SharedStoresAsync(redis));
        await using (a)
        await using (b)
        {
            var key = await Tenants.CreateAsync(a.Admin, """{"models": ["demo"]}""");
            string secret = (string)key["key"]!;
            Assert.Equal(200, await StatusAsync(b, secret)); // b has it cached now

            using (var revoke = await a.Admin.PostAsync($"/admin/keys/{key["id"]}/revoke", null))
            {
                Assert.True(revoke.IsSuccessStatusCode);
            }
            double seconds = await SecondsUntilAsync(b, secret, 401);

            Assert.True(seconds < 1, $"the second gateway still served the revoked key after {seconds:0.###} s");
            Assert.Contains("revoked", (await Tenants.SendAsync(b.Client, Tenants.Completion(secret, "demo"))).Body, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public async Task Rotate_OnOneGateway_GraceWorksOnBoth_ThenTheOldSecretStopsOnBoth()
    {
        var (a, b) = await StartTwoAsync(await SharedStoresAsync());
        await using (a)
        await using (b)
        {
            var key = await Tenants.CreateAsync(a.Admin, "{}");
            string first = (string)key["key"]!;
            Assert.Equal(200, await StatusAsync(b, first));

            using var rotate = await a.Admin.PostAsync($"/admin/keys/{key["id"]}/rotate", Requests.Json("""{"grace_period": "1h"}"""));
            string second = (string)JsonNode.Parse(await rotate.Content.ReadAsStringAsync())!["key"]!;
            foreach (var gateway in new[] { a, b })
            {
                Assert.Equal(200, await StatusAsync(gateway, first));
                Assert.Equal(200, await StatusAsync(gateway, second));
            }

            using (var again = await b.Admin.PostAsync($"/admin/keys/{key["id"]}/rotate", null))
            {
                Assert.True(again.IsSuccessStatusCode);
            }
            Assert.True(await SecondsUntilAsync(a, second, 401) < 1);
            Assert.Equal(401, await StatusAsync(b, first));

            var expired = await Tenants.CreateAsync(b.Admin, """{"expires": "2021-06-01T00:00:00Z"}""");
            Assert.Equal(401, await StatusAsync(a, (string)expired["key"]!));
            Assert.Equal(401, await StatusAsync(b, (string)expired["key"]!));
        }
    }

    [SkippableFact]
    public async Task RpmLimit_SeveralKeysUnderLoadThroughTwoGateways_AcceptsTheLimitFleetWide()
    {
        var (a, b) = await StartTwoAsync(await SharedStoresAsync());
        await using (a)
        await using (b)
        {
            const int Limit = 60;
            var secrets = new List<string>();
            for (int i = 0; i < 3; i++)
            {
                secrets.Add((string)(await Tenants.CreateAsync(a.Admin, $$"""{"rpm_limit": {{Limit}}}"""))["key"]!);
            }
            var accepted = new ConcurrentDictionary<string, int>();
            var other = new ConcurrentBag<int>();
            var clock = Stopwatch.StartNew();
            var work = Enumerable.Range(0, 2 * Limit).SelectMany(i => secrets.Select(secret => (i, secret))).ToList();
            await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = 24 }, async (item, _) =>
            {
                int status = await StatusAsync(item.i % 2 == 0 ? a : b, item.secret);
                if (status == 200)
                {
                    accepted.AddOrUpdate(item.secret, 1, (_, n) => n + 1);
                }
                else if (status != 429)
                {
                    other.Add(status);
                }
            });
            clock.Stop();

            Assert.Empty(other);
            foreach (string secret in secrets)
            {
                int count = accepted.GetValueOrDefault(secret);
                if (clock.Elapsed < TimeSpan.FromSeconds(59))
                {
                    // everything ran inside one minute: the fleet accepted the limit, within 1%
                    Assert.InRange(count, Limit * 0.99, Limit * 1.01);
                }
                else
                {
                    Assert.InRange(count, Limit, Limit * Math.Ceiling(clock.Elapsed.TotalMinutes));
                }
            }
        }
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Block_OnOneGateway_TheOtherRefusesWithinASecond_AndUnblockRestores(bool redis)
    {
        var (a, b) = await StartTwoAsync(await SharedStoresAsync(redis));
        await using (a)
        await using (b)
        {
            var key = await Tenants.CreateAsync(a.Admin, "{}");
            string secret = (string)key["key"]!;
            Assert.Equal(200, await StatusAsync(b, secret)); // b has it cached now

            using (var block = await a.Admin.PostAsync("/key/block", Requests.Json($$"""{"key": "{{secret}}"}""")))
            {
                Assert.True(block.IsSuccessStatusCode);
            }
            double seconds = await SecondsUntilAsync(b, secret, 401);
            Assert.True(seconds < 1, $"the second gateway still served the blocked key after {seconds:0.###} s");
            Assert.Contains("blocked", (await Tenants.SendAsync(b.Client, Tenants.Completion(secret, "demo"))).Body, StringComparison.Ordinal);

            using (var unblock = await b.Admin.PostAsync("/key/unblock", Requests.Json($$"""{"key": "{{key["id"]}}"}""")))
            {
                Assert.True(unblock.IsSuccessStatusCode);
            }
            seconds = await SecondsUntilAsync(a, secret, 200);
            Assert.True(seconds < 1, $"the first gateway still refused the unblocked key after {seconds:0.###} s");
        }
    }

    /// <summary>
    /// Worst case 16 + 4 = 20 tokens a request (the prompt estimated on the safe side, 2 bytes a token), 2 used (the backend's usage): the window holds what was used once settled.
    /// Both gateways together admit at most the limit (+1%, + one request's worst case) in the minute, not twice it.
    /// </summary>
    [SkippableFact]
    public async Task TpmLimit_UnderLoadThroughTwoGateways_AdmitsTheLimitFleetWide()
    {
        var (a, b) = await StartTwoAsync(await SharedStoresAsync());
        await using (a)
        await using (b)
        {
            const int Limit = 300, Worst = 20, Used = 2, Parallel = 8;
            string secret = (string)(await Tenants.CreateAsync(a.Admin, $$"""{"tpm_limit": {{Limit}}}"""))["key"]!;
            int accepted = 0;
            var other = new ConcurrentBag<string>();
            var clock = Stopwatch.StartNew();
            await System.Threading.Tasks.Parallel.ForEachAsync(Enumerable.Range(0, 2 * Limit / Used), new ParallelOptions { MaxDegreeOfParallelism = Parallel }, async (i, _) =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
                {
                    Content = Requests.Completion("demo", 4, prompt: "abcdabcdabcdabcdabcdabcdabcdabcd"),
                };
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
                var (status, body) = await Tenants.SendAsync((i % 2 == 0 ? a : b).Client, request);
                if (status == 200)
                {
                    Interlocked.Increment(ref accepted);
                }
                else if (status != 429 || !body.Contains("tpm_limit", StringComparison.Ordinal))
                {
                    other.Add($"{status}: {body}");
                }
            });
            clock.Stop();

            Assert.Empty(other);
            long tokens = (long)accepted * Used;
            output.WriteLine($"tpm_limit {Limit}: {accepted} requests, {tokens} tokens admitted through two gateways in {clock.Elapsed.TotalSeconds:0.0} s");
            // at least the limit less what requests in flight held at their worst when the last ones were refused
            double least = Limit - ((Parallel + 1) * Worst);
            if (clock.Elapsed < TimeSpan.FromSeconds(59))
            {
                Assert.InRange(tokens, least, (Limit * 1.01) + Worst);
            }
            else
            {
                Assert.InRange(tokens, least, ((Limit * 1.01) + Worst) * Math.Ceiling(clock.Elapsed.TotalMinutes));
            }
        }
    }

    [SkippableTheory]
    [InlineData("closed")]
    [InlineData("open")]
    public async Task RedisStoppedMidLoad_FollowsTheFailMode_AndRecovers(string failMode)
    {
        await using var redis = await RedisServer.StartNewAsync();
        var (a, b) = await StartTwoAsync(await SharedStoresAsync(failMode: failMode, ownRedis: redis));
        await using (a)
        await using (b)
        {
            string secret = (string)(await Tenants.CreateAsync(a.Admin, """{"rpm_limit": 100000, "max_parallel_requests": 50}"""))["key"]!;
            string tpmOnly = (string)(await Tenants.CreateAsync(a.Admin, """{"tpm_limit": 100000}"""))["key"]!;
            Assert.Equal(200, await StatusAsync(a, secret));
            Assert.Equal(200, await StatusAsync(b, tpmOnly));

            redis.Stop();
            // the requests before were granted shares of the keys' limits (RedisShares), which admit for up to OpenFor
            // without asking Redis; past it, every request asks Redis and meets the fail mode
            await Task.Delay(RedisShares.OpenFor + (RedisShares.SweepEvery * 2));
            var during = new List<(int Status, string Body)>();
            for (int i = 0; i < 6; i++)
            {
                during.Add(await Tenants.SendAsync((i % 2 == 0 ? a : b).Client, Tenants.Completion(i < 3 ? secret : tpmOnly, "demo")));
            }
            if (failMode == "closed")
            {
                Assert.All(during, r => Assert.Equal(503, r.Status));
                Assert.All(during, r => Assert.Contains("Redis", r.Body, StringComparison.Ordinal));
            }
            else
            {
                Assert.All(during, r => Assert.Equal(200, r.Status));
            }
            string metrics = await a.Admin.GetStringAsync("/metrics");
            Assert.Contains($"sluice_gateway_tenancy_store_errors_total{{store=\"redis\",fail_mode=\"{failMode}\"}}", metrics, StringComparison.Ordinal);
            Assert.False(a.Exited || b.Exited);

            await redis.StartAsync();
            var clock = Stopwatch.StartNew();
            while ((await StatusAsync(b, secret) != 200 || await StatusAsync(a, secret) != 200) && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(100);
            }
            Assert.Equal(200, await StatusAsync(a, secret));
            Assert.Equal(200, await StatusAsync(b, secret));
            Assert.Equal(200, await StatusAsync(a, tpmOnly));
        }
    }

    [SkippableFact]
    public async Task PostgresStoppedMidLoad_FailsClosedWithAClearError_AndRecovers()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        var (a, b) = await StartTwoAsync(await SharedStoresAsync(redis: false, ownPostgres: postgres));
        await using (a)
        await using (b)
        {
            string secret = (string)(await Tenants.CreateAsync(a.Admin, "{}"))["key"]!;
            Assert.Equal(200, await StatusAsync(b, secret));

            postgres.Stop();
            await Task.Delay(1500); // past the second a poll vouches for the cache
            var (status, body) = await Tenants.SendAsync(b.Client, Tenants.Completion(secret, "demo"));
            Assert.Equal(503, status);
            Assert.Contains("key store", body, StringComparison.Ordinal);
            Assert.Contains("PostgreSQL", body, StringComparison.Ordinal);
            using (var create = await a.Admin.PostAsync("/admin/keys", Requests.Json("{}")))
            {
                Assert.Equal(503, (int)create.StatusCode);
            }
            Assert.False(a.Exited || b.Exited);

            await postgres.StartAsync();
            var clock = Stopwatch.StartNew();
            while (await StatusAsync(b, secret) != 200 && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(200);
            }
            Assert.Equal(200, await StatusAsync(b, secret));
            Assert.Equal(200, await StatusAsync(a, secret));
        }
    }

    [Fact]
    public async Task CorruptSqliteFile_AtStart_ExitsWithAClearErrorAndNoStackTrace()
    {
        string folder = Directory.CreateTempSubdirectory("sluice-corrupt-").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "sluice-gateway.db"), new string('x', 4096));
        string config = Path.Combine(folder, "gateway.yaml");
        await File.WriteAllTextAsync(config, Tenants.Config(_backend.Url, "  fail_mode: closed"));

        using var process = GatewayProcess.Start(config);
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        string output = await stderr + await stdout;

        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("not a SQLite database", output, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(folder, "sluice-gateway.db"), output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Directory.Delete(folder, recursive: true);
    }
}
