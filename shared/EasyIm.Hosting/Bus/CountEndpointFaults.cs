using MassTransit;

namespace EasyIm.Hosting.Bus;

/// <summary>
/// A receive endpoint that loses the broker (a RabbitMQ restart, a dropped connection) counts as a bus
/// error: while MassTransit reconnects, sends wait rather than fail, so without this a broker outage
/// would leave <see cref="EasyImTelemetry.BusErrors"/> at zero.
/// </summary>
public sealed class CountEndpointFaults : IReceiveEndpointObserver
{
    public Task Faulted(ReceiveEndpointFaulted faulted)
    {
        EasyImTelemetry.BusErrors.Add(1, new KeyValuePair<string, object?>("kind", "receive"));
        return Task.CompletedTask;
    }

    public Task Ready(ReceiveEndpointReady ready) => Task.CompletedTask;
    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;
    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;
}
