using System.Globalization;
using System.Net;
using EasyIm.Client;
using EasyIm.LoadTest.Processes;

namespace EasyIm.LoadTest.Targets;

/// <summary>The bare relay (<see cref="Relay.BareRelay"/>) as a child process, reached on the port of the run's transport.</summary>
public sealed class RelayTarget : ILoadTarget
{
    private readonly ChildProcess _process;

    private RelayTarget(ChildProcess process, int port)
    {
        _process = process;
        Endpoint = new IPEndPoint(IPAddress.Loopback, port);
    }

    public string Name => "bare relay";

    public IPEndPoint Endpoint { get; }

    public IReadOnlyList<ChildProcess> Processes => [_process];

    public ChildProcess ConnectionHolder => _process;

    public static async Task<RelayTarget> StartAsync(ClientTransport transport, CancellationToken cancellationToken)
    {
        var process = ToolProcess.Start("relay", "relay");
        try
        {
            var ready = await ToolProcess.ReadLineAsync(process, TimeSpan.FromSeconds(30), cancellationToken);
            var parts = ready.Split(' ');
            if (parts is not ["READY", var tcp, var webSocket])
                throw new InvalidOperationException($"the relay said '{ready}' instead of READY <tcp port> <websocket port>");
            var port = transport is ClientTransport.TcpJson or ClientTransport.TcpProtobuf ? tcp : webSocket;
            return new RelayTarget(process, int.Parse(port, CultureInfo.InvariantCulture));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
