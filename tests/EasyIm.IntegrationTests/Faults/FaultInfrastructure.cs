using System.Diagnostics;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// The RabbitMQ node and PostgreSQL cluster the fault tests may restart, apart from the ones every other
/// test shares (<c>tests/scripts/fault-infra.sh up</c> starts them and prints these variables):
/// <c>EASYIM_FAULT_RABBITMQ</c> (amqp://), <c>EASYIM_FAULT_RABBITMQ_MANAGEMENT</c> (http:// with user and
/// password), <c>EASYIM_FAULT_POSTGRES</c> (a connection string whose role may create databases) and
/// <c>EASYIM_FAULT_CONTROL</c> (the script, run with <c>restart-rabbitmq</c> or <c>restart-postgres</c>).
/// Without them the tests are skipped with the reason; with <c>EASYIM_REQUIRE_INFRA=1</c> they fail.
/// </summary>
public sealed record FaultInfrastructure(string RabbitMq, Uri RabbitMqManagement, string PostgresAdmin, string Control)
{
    private static readonly string[] Variables =
        ["EASYIM_FAULT_RABBITMQ", "EASYIM_FAULT_RABBITMQ_MANAGEMENT", "EASYIM_FAULT_POSTGRES", "EASYIM_FAULT_CONTROL"];

    public static (FaultInfrastructure? Found, string? Missing) Find()
    {
        var values = Variables.Select(Environment.GetEnvironmentVariable).ToArray();
        var missing = Variables.Where((_, i) => string.IsNullOrWhiteSpace(values[i])).ToList();
        if (missing.Count > 0)
            return (null, $"the fault tests need a RabbitMQ node and a PostgreSQL cluster of their own: {string.Join(", ", missing)} not set " +
                "(run tests/scripts/fault-infra.sh up as root and export what it prints; .ci/run does)");
        return (new FaultInfrastructure(values[0]!, new Uri(values[1]!), values[2]!, values[3]!), null);
    }

    /// <summary>Runs the control script (<c>restart-rabbitmq</c>, <c>restart-postgres</c>) and waits for it, at most two minutes.</summary>
    public async Task RunControlAsync(string action)
    {
        var info = new ProcessStartInfo(Control, action) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Control} {action} did not finish within two minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Control} {action} exited with {process.ExitCode}: {await stdout}{await stderr}");
    }
}

/// <summary>The fault tests restart shared parts of their infrastructure: one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class FaultCollection
{
    public const string Name = "faults";
}
