using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// What every test class of the fault collection shares: the fault infrastructure (or why it is
/// missing: a failure where infrastructure is required, else a skip) and the cluster a test starts,
/// stopped after it.
/// </summary>
public abstract class FaultTestClass : IAsyncLifetime
{
    protected FaultInfrastructure? Infrastructure { get; private set; }

    protected string? Missing { get; private set; }

    protected ProcessCluster? Cluster { get; set; }

    public Task InitializeAsync()
    {
        (Infrastructure, Missing) = FaultInfrastructure.Find();
        if (Infrastructure is null && TestInfrastructure.Required)
            throw new InvalidOperationException(Missing);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
            await Cluster.DisposeAsync();
    }
}
