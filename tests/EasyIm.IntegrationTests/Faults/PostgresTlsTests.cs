using System.Globalization;
using EasyIm.IntegrationTests.Server;
using EasyIm.IntegrationTests.Shapes;
using Npgsql;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// PostgreSQL over TLS with <c>SSL Mode=VerifyFull</c> (issue 16): the fault tests' cluster serves a certificate from a
/// throwaway CA made here (<c>fault-infra.sh postgres-tls</c>); a server whose connection string names that CA as its
/// root certificate stores and serves a chat, every one of its database sessions encrypted; with another CA it never
/// becomes ready. Nothing in EasyIm is specific to it: the connection string carries it to Npgsql.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class PostgresTlsTests : IAsyncLifetime
{
    private readonly ThrowawayCa _ca = new();
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("easyim-pgtls-");
    private readonly string _database = "easyim_pgtls_" + Guid.NewGuid().ToString("N")[..12];
    private FaultInfrastructure? _infrastructure;
    private string? _missing;

    public async Task InitializeAsync()
    {
        (_infrastructure, _missing) = FaultInfrastructure.Find();
        if (_infrastructure is null)
            return;
        _ca.IssueServerCertificate();
        await _infrastructure.RunControlAsync($"postgres-tls {Path.GetDirectoryName(_ca.CertificatePath)}");
        await TestInfrastructure.CreateDatabaseAsync(_infrastructure.PostgresAdmin, _database);
    }

    public async Task DisposeAsync()
    {
        if (_infrastructure is not null)
            await TestInfrastructure.DropDatabaseAsync(_infrastructure.PostgresAdmin, _database);
        _ca.Dispose();
        _work.Delete(recursive: true);
    }

    private FaultInfrastructure Require()
    {
        if (TestInfrastructure.Required)
            Assert.True(_infrastructure is not null, _missing);
        Skip.If(_infrastructure is null, _missing);
        return _infrastructure!;
    }

    /// <summary>The test database, verified against <paramref name="ca"/>: encrypted, and the certificate must chain to it and name 127.0.0.1.</summary>
    private async Task<string> VerifyFullAsync(FaultInfrastructure infrastructure, ThrowawayCa ca)
    {
        var root = Path.Combine(_work.FullName, Guid.NewGuid().ToString("N") + "-ca.crt");
        await File.WriteAllTextAsync(root, ca.Certificate.ExportCertificatePem());
        return new NpgsqlConnectionStringBuilder(infrastructure.PostgresAdmin)
        {
            Host = "127.0.0.1",
            Database = _database,
            SslMode = SslMode.VerifyFull,
            RootCertificate = root,
        }.ConnectionString;
    }

    private EasyImProcess StartServer(string postgres, int apiPort, int socketPort) =>
        EasyImProcess.Start(["--apiport", apiPort.ToString(CultureInfo.InvariantCulture), "--port", socketPort.ToString(CultureInfo.InvariantCulture)],
            _work.FullName, new Dictionary<string, string>
            {
                ["Database__Provider"] = "Postgres",
                ["ConnectionStrings__postgres"] = postgres,
                ["EasyIm__ListenAddress"] = "127.0.0.1",
                ["EasyIm__DataDirectory"] = Path.Combine(_work.FullName, "data-" + apiPort),
                ["Auth__PasswordIterations"] = "1000",
            });

    [SkippableFact]
    public async Task With_verify_full_and_the_clusters_ca_a_chat_is_stored_and_every_session_is_encrypted()
    {
        var infrastructure = Require();
        var postgres = await VerifyFullAsync(infrastructure, _ca);
        var (apiPort, socketPort) = (TestInfrastructure.FreePort(), TestInfrastructure.FreePort());
        await using var server = StartServer(postgres, apiPort, socketPort);
        await server.WaitUntilReadyAsync(apiPort);

        await TwoPeople.ChatAsync(apiPort, socketPort, "stored over tls");

        await using var check = new NpgsqlConnection(postgres);
        await check.OpenAsync();
        await using var sessions = new NpgsqlCommand(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = @db AND a.pid <> pg_backend_pid()", check);
        sessions.Parameters.AddWithValue("db", _database);
        await using var reader = await sessions.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var (all, encrypted) = (reader.GetInt64(0), reader.GetInt64(1));
        Assert.True(all > 0, "the server holds no session to its database");
        Assert.Equal(all, encrypted);
    }

    [SkippableFact]
    public async Task With_verify_full_and_another_ca_the_server_never_becomes_ready()
    {
        var infrastructure = Require();
        using var stranger = new ThrowawayCa();
        var apiPort = TestInfrastructure.FreePort();
        await using var server = StartServer(await VerifyFullAsync(infrastructure, stranger), apiPort, TestInfrastructure.FreePort());

        await Assert.ThrowsAnyAsync<Exception>(() => server.WaitUntilReadyAsync(apiPort, TimeSpan.FromSeconds(20)));
        Assert.Contains("certificate", server.Stdout + server.Stderr, StringComparison.OrdinalIgnoreCase);
    }
}
