using System.Net.Http.Json;
using System.Text.Json;
using EasyIm.IntegrationTests.Shapes;
using EasyIm.IntegrationTests.Telemetry;
using Npgsql;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>
/// Passwords and tokens never rest on the broker (issue 16): the requests and replies that carry them are sent
/// non-durable with a time to live, and a request auth fails on is answered 503 and dropped, not moved to an
/// <c>_error</c> queue with its password. Real processes (auth, friends, messaging, a gateway) on a RabbitMQ vhost and a
/// PostgreSQL database of this test's own.
/// </summary>
public sealed class SecretsOnTheBusTests
{
    private static async Task<ServerProcesses> DistributedAsync()
    {
        var (infrastructure, missing) = await TestInfrastructure.GetAsync();
        Skip.If(infrastructure is null && !TestInfrastructure.Required, missing);
        Assert.True(infrastructure is not null, missing);
        return await ServerProcesses.DistributedAsync(infrastructure);
    }

    private static string Logs(ServerProcesses server) => string.Join("\n", server.Processes.Select(p => p.Stdout + p.Stderr));

    private static async Task<(int Status, int Code, string Text)> PostAsync(ServerProcesses server, string path, object body)
    {
        var response = await server.Http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        var code = JsonDocument.Parse(text).RootElement.GetProperty("code").GetInt32();
        return ((int)response.StatusCode, code, text);
    }

    /// <summary>Every message in every queue of the vhost, as text (left in its queue).</summary>
    private static async Task<List<(string Queue, string Payload)>> ReadEveryQueueAsync(HttpClient api, string vhost)
    {
        var found = new List<(string, string)>();
        var queues = await api.GetFromJsonAsync<JsonElement>($"api/queues/{Uri.EscapeDataString(vhost)}");
        foreach (var queue in queues.EnumerateArray())
        {
            var name = queue.GetProperty("name").GetString()!;
            var got = await api.PostAsJsonAsync($"api/queues/{Uri.EscapeDataString(vhost)}/{Uri.EscapeDataString(name)}/get",
                new { count = 10_000, ackmode = "ack_requeue_true", encoding = "auto", truncate = 1_000_000 });
            if (!got.IsSuccessStatusCode)
                continue; // an exclusive or auto-deleted queue that went meanwhile
            foreach (var message in (await got.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray())
                found.Add((name, message.GetProperty("payload").GetString() ?? ""));
        }
        return found;
    }

    [SkippableFact]
    public async Task A_login_and_a_refresh_that_fail_inside_auth_are_answered_503_and_leave_no_password_or_token_in_any_queue()
    {
        await using var server = await DistributedAsync();
        var account = "s" + Guid.NewGuid().ToString("N")[..12];
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var registered = await PostAsync(server, "/api/user/register", new { account, password });
        Assert.True(registered.Code == 200, registered.Text);
        var refreshToken = JsonDocument.Parse(registered.Text).RootElement.GetProperty("data").GetProperty("refresh_token").GetString()!;

        // Auth's sessions go away under it: the password checks out, then storing the session fails.
        await using (var db = new NpgsqlConnection(server.Postgres))
        {
            await db.OpenAsync();
            await using var rename = new NpgsqlCommand("ALTER TABLE auth.login_sessions RENAME TO login_sessions_away", db);
            await rename.ExecuteNonQueryAsync();
        }
        var login = await PostAsync(server, "/api/user/login", new { account, password });
        var refresh = await PostAsync(server, "/api/user/refresh_token", new { grant_type = "access_token", refresh_token = refreshToken });

        Assert.True(login.Code == 503, login.Text + "\n" + Logs(server));
        Assert.True(refresh.Code == 503, refresh.Text);
        using var api = TestInfrastructure.ManagementApi((await TestInfrastructure.GetAsync()).Found!.RabbitMq);
        var everything = await ReadEveryQueueAsync(api, server.Name);
        Assert.DoesNotContain(everything, m => m.Payload.Contains(password, StringComparison.Ordinal));
        Assert.DoesNotContain(everything, m => m.Payload.Contains(refreshToken, StringComparison.Ordinal));
        Assert.Contains("login_sessions", Logs(server), StringComparison.Ordinal);
        Assert.DoesNotContain(password, Logs(server), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_login_request_travels_non_durable_and_expires_with_the_request_timeout()
    {
        await using var server = await DistributedAsync();
        var (found, _) = await TestInfrastructure.GetAsync();
        using var api = TestInfrastructure.ManagementApi(found!.RabbitMq);
        var vhost = Uri.EscapeDataString(server.Name);
        var tap = "it-secret-tap-" + Guid.NewGuid().ToString("N")[..8];
        // A queue of the test's own on the exchange every LoginUser is published to: it gets a copy of each.
        (await api.PutAsJsonAsync($"api/queues/{vhost}/{tap}", new { durable = false, auto_delete = false })).EnsureSuccessStatusCode();
        try
        {
            (await api.PostAsJsonAsync($"api/bindings/{vhost}/e/{Uri.EscapeDataString("EasyIm.Contracts.Auth:LoginUser")}/q/{tap}", new { routing_key = "" }))
                .EnsureSuccessStatusCode();
            var account = "s" + Guid.NewGuid().ToString("N")[..12];
            await PostAsync(server, "/api/user/register", new { account, password = "pass-word-1" });
            var login = await PostAsync(server, "/api/user/login", new { account, password = "pass-word-1" });
            Assert.True(login.Code == 200, login.Text);

            var got = await api.PostAsJsonAsync($"api/queues/{vhost}/{tap}/get", new { count = 10, ackmode = "ack_requeue_false", encoding = "auto" });
            var copies = (await got.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToList();
            var copy = Assert.Single(copies);
            var properties = copy.GetProperty("properties");
            Assert.Equal(1, properties.GetProperty("delivery_mode").GetInt32());
            Assert.Equal("10000", properties.GetProperty("expiration").GetString());
        }
        finally
        {
            await api.DeleteAsync($"api/queues/{vhost}/{tap}");
        }
    }
}
