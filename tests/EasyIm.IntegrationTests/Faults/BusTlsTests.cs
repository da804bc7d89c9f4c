using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using EasyIm.IntegrationTests.Server;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// AMQP over TLS (issue 16): the services on <c>amqps://</c>, against the fault tests' RabbitMQ node's TLS listener
/// serving a certificate from a throwaway CA made here (<c>fault-infra.sh rabbitmq-tls</c>), with
/// <c>Bus:RabbitMq:CaCertificatePath</c> naming that CA: two people chat, and the broker lists the connections as
/// TLS. With another CA the process never becomes ready. In the fault collection: that node is restarted there.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class BusTlsTests : IDisposable
{
    private readonly ThrowawayCa _ca = new();
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("easyim-bustls-");

    private static (FaultInfrastructure Infrastructure, string Amqps) Require()
    {
        var (infrastructure, missing) = FaultInfrastructure.Find();
        var amqps = Environment.GetEnvironmentVariable("EASYIM_FAULT_RABBITMQ_TLS");
        if (TestInfrastructure.Required)
        {
            Assert.True(infrastructure is not null, missing);
            Assert.False(string.IsNullOrWhiteSpace(amqps), "EASYIM_FAULT_RABBITMQ_TLS is not set (tests/scripts/fault-infra.sh up prints it)");
        }
        Skip.If(infrastructure is null, missing);
        Skip.If(string.IsNullOrWhiteSpace(amqps), "EASYIM_FAULT_RABBITMQ_TLS is not set (tests/scripts/fault-infra.sh up prints it)");
        return (infrastructure!, amqps!);
    }

    private async Task<string> TrustOnlyAsync(ThrowawayCa ca)
    {
        var path = Path.Combine(_work.FullName, Guid.NewGuid().ToString("N") + "-ca.crt");
        await File.WriteAllTextAsync(path, ca.Certificate.ExportCertificatePem());
        return path;
    }

    private EasyImProcess StartServer(string amqps, string caPath, int apiPort, int socketPort) =>
        EasyImProcess.Start(["--apiport", apiPort.ToString(CultureInfo.InvariantCulture), "--port", socketPort.ToString(CultureInfo.InvariantCulture)],
            _work.FullName, new Dictionary<string, string>
            {
                ["Bus__Transport"] = "RabbitMq",
                ["ConnectionStrings__rabbitmq"] = amqps,
                ["Bus__RabbitMq__CaCertificatePath"] = caPath,
                ["EasyIm__ListenAddress"] = "127.0.0.1",
                ["EasyIm__DataDirectory"] = Path.Combine(_work.FullName, "data-" + apiPort),
                ["Auth__PasswordIterations"] = "1000",
            });

    [SkippableFact]
    public async Task On_amqps_with_the_brokers_ca_two_people_chat_and_the_broker_sees_tls_connections()
    {
        var (infrastructure, amqps) = Require();
        _ca.IssueServerCertificate();
        await infrastructure.RunControlAsync($"rabbitmq-tls {Path.GetDirectoryName(_ca.CertificatePath)}");
        var (apiPort, socketPort) = (TestInfrastructure.FreePort(), TestInfrastructure.FreePort());
        await using var server = StartServer(amqps, await TrustOnlyAsync(_ca), apiPort, socketPort);
        await server.WaitUntilReadyAsync(apiPort);

        await TwoPeople.ChatAsync(apiPort, socketPort, "over amqps");

        using var management = new HttpClient { BaseAddress = infrastructure.RabbitMqManagement, Timeout = TimeSpan.FromSeconds(30) };
        management.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(
            Uri.UnescapeDataString(infrastructure.RabbitMqManagement.UserInfo))));
        // The management API lists connections from its statistics, a moment behind the broker: asked until it has them.
        var onTlsPort = new List<JsonElement>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (onTlsPort.Count == 0 && DateTime.UtcNow < deadline)
        {
            var connections = await management.GetFromJsonAsync<JsonElement>("api/connections");
            onTlsPort = connections.EnumerateArray().Where(c => c.GetProperty("port").GetInt32() == new Uri(amqps).Port).ToList();
            if (onTlsPort.Count == 0)
                await Task.Delay(250);
        }
        Assert.NotEmpty(onTlsPort);
        Assert.All(onTlsPort, c => Assert.True(c.GetProperty("ssl").GetBoolean()));
    }

    [SkippableFact]
    public async Task A_broker_certificate_from_another_ca_is_refused_and_the_process_never_becomes_ready()
    {
        var (infrastructure, amqps) = Require();
        _ca.IssueServerCertificate();
        await infrastructure.RunControlAsync($"rabbitmq-tls {Path.GetDirectoryName(_ca.CertificatePath)}");
        using var stranger = new ThrowawayCa();
        var apiPort = TestInfrastructure.FreePort();
        await using var server = StartServer(amqps, await TrustOnlyAsync(stranger), apiPort, TestInfrastructure.FreePort());

        await Assert.ThrowsAsync<TimeoutException>(() => server.WaitUntilReadyAsync(apiPort, TimeSpan.FromSeconds(20)));
        Assert.Contains("certificate", server.Stdout + server.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    public void Dispose()
    {
        _ca.Dispose();
        _work.Delete(recursive: true);
    }
}
