using System.Diagnostics;
using System.Text.RegularExpressions;

namespace EasyIm.IntegrationTests.Deploy;

/// <summary>
/// docker-compose.yml ships no secrets (issue 16): Compose refuses to start it until the RabbitMQ and PostgreSQL
/// passwords are set, and with the ones <c>.env.example</c>'s one-liner makes, every service gets its own broker account
/// and database role and no default password is left. Checked with the system's <c>docker-compose config</c> (offline; no Docker engine).
/// </summary>
public sealed class ComposeSecretsTests
{
    private static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "compose");

    /// <summary>What .env.example lists (EASYIM_{key}_PASSWORD).</summary>
    private static readonly string[] SecretKeys =
        ["RABBITMQ", "RABBITMQ_AUTH", "RABBITMQ_FRIENDS", "RABBITMQ_MESSAGING", "RABBITMQ_GATEWAY", "POSTGRES", "MIGRATE", "AUTH", "FRIENDS", "MESSAGING"];

    private static async Task<(int ExitCode, string Output)> ComposeConfigAsync(string envFile, params string[] overrides)
    {
        var info = new ProcessStartInfo("docker-compose")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        foreach (var arg in new[] { "--env-file", envFile, "-f", "docker-compose.yml" }.Concat(overrides.SelectMany(o => new[] { "-f", o })).Append("config"))
            info.ArgumentList.Add(arg);
        foreach (var key in SecretKeys)
            info.Environment.Remove($"EASYIM_{key}_PASSWORD");
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("docker-compose is not installed (Debian: apt-get install docker-compose; .ci/run installs it)", ex);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await stdout + await stderr);
        }
    }

    [Fact]
    public async Task Compose_refuses_to_start_without_the_secrets_and_names_the_one_missing()
    {
        var (exitCode, output) = await ComposeConfigAsync(Path.Combine(Directory, ".env.example"));

        Assert.NotEqual(0, exitCode);
        Assert.Matches("set EASYIM_[A-Z_]+_PASSWORD in .env", output);
    }

    [Fact]
    public async Task The_tls_override_puts_nginx_tls_conf_and_the_certificate_directory_on_the_balancer()
    {
        var env = Path.Combine(Path.GetTempPath(), "easyim-compose-" + Guid.NewGuid().ToString("N") + ".env");
        await File.WriteAllTextAsync(env, string.Concat(SecretKeys
            .Select(k => $"EASYIM_{k}_PASSWORD=x{k.ToLowerInvariant()}\n")) + "EASYIM_TLS_DIR=/srv/easyim-tls\n");
        try
        {
            var (exitCode, output) = await ComposeConfigAsync(env, "docker-compose.tls.yml");

            Assert.True(exitCode == 0, output);
            Assert.Matches(@"deploy/nginx-tls\.conf:/etc/nginx/nginx\.conf:ro", output);
            Assert.Contains("/srv/easyim-tls:/etc/nginx/tls:ro", output);
            Assert.DoesNotMatch(@"deploy/nginx\.conf:/etc/nginx/nginx\.conf", output);
            Assert.Contains("https://127.0.0.1:8889/", output);
        }
        finally
        {
            File.Delete(env);
        }
    }

    [Fact]
    public async Task With_generated_secrets_every_service_gets_its_own_broker_account_and_role_and_no_default_password_is_left()
    {
        var env = Path.Combine(Path.GetTempPath(), "easyim-compose-" + Guid.NewGuid().ToString("N") + ".env");
        var secrets = SecretKeys.ToDictionary(k => k, _ => Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(env, string.Concat(secrets.Select(s => $"EASYIM_{s.Key}_PASSWORD={s.Value}\n")));
        try
        {
            var (exitCode, output) = await ComposeConfigAsync(env);

            Assert.True(exitCode == 0, output);
            Assert.DoesNotMatch(new Regex("easyim:easyim@|Password=easyim;|_PASS(WORD)?: easyim"), output);
            Assert.Contains($"RABBITMQ_DEFAULT_PASS: {secrets["RABBITMQ"]}", output);
            // The broker's administrator is the broker's and the accounts step's alone; each service has its own account,
            // made by deploy/rabbitmq-accounts.sh before any service starts.
            Assert.Equal(2, Regex.Matches(output, secrets["RABBITMQ"]).Count);
            Assert.Contains($"EASYIM_RABBITMQ_ADMIN_PASSWORD: {secrets["RABBITMQ"]}", output);
            Assert.DoesNotContain("amqp://easyim:", output);
            foreach (var service in new[] { "auth", "friends", "messaging", "gateway" })
            {
                var password = secrets["RABBITMQ_" + service.ToUpperInvariant()];
                Assert.Single(Regex.Matches(output, $"ConnectionStrings__rabbitmq: amqp://easyim_{service}:{password}@rabbitmq:5672/"));
                Assert.Contains($"EASYIM_RABBITMQ_{service.ToUpperInvariant()}_PASSWORD: {password}", output);
            }
            Assert.Contains("rabbitmq-accounts.sh:/easyim/rabbitmq-accounts.sh:ro", output);
            // The database superuser's password is the postgres container's alone: no EasyIm process uses it.
            Assert.Single(Regex.Matches(output, secrets["POSTGRES"]));
            Assert.Contains($"ConnectionStrings__postgres: Host=postgres;Username=easyim_migrate;Password={secrets["MIGRATE"]};Database=easyim", output);
            foreach (var service in new[] { "auth", "friends", "messaging" })
                Assert.Contains($"ConnectionStrings__{service}: Host=postgres;Username=easyim_{service};Password={secrets[service.ToUpperInvariant()]};Database=easyim", output);
            // The services only check the migrations, which the one-shot migrate service applies before they start.
            Assert.Equal(4, Regex.Matches(output, "Database__MigrateOnStart: \"false\"").Count); // the three services and migrate (where it does nothing)
            // auth, friends, messaging and the gateways each wait for the migrations and for the broker accounts.
            Assert.Equal(8, Regex.Matches(output, "condition: service_completed_successfully").Count);
            Assert.Contains("/docker-entrypoint-initdb.d/10-easyim-roles.sh", output);
        }
        finally
        {
            File.Delete(env);
        }
    }
}
