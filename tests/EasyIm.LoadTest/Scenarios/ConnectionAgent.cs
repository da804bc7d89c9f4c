using System.Globalization;
using System.Net;
using EasyIm.Client;
using EasyIm.LoadTest.Processes;
using EasyIm.LoadTest.Targets;
using EasyIm.LoadTest.Wire;

namespace EasyIm.LoadTest.Scenarios;

/// <summary>
/// The hidden <c>agent</c> mode: a child process that opens and holds idle connections, because one
/// process may open at most 20,000 files here and a full idle run holds 19,000 (the gateway holds
/// them too, in its own process, which fits). Its protocol, a line at a time:
/// <list type="bullet">
/// <item>stdin: <c>connect &lt;port&gt; &lt;transport&gt; &lt;heartbeat seconds, 0 = none&gt;</c>, then one
/// <c>&lt;user id&gt; &lt;token&gt; &lt;device id or -&gt;</c> per connection, then <c>go</c>.</item>
/// <item>stdout: <c>progress &lt;n&gt;</c> now and then, then <c>ready &lt;ok&gt; &lt;failed&gt; &lt;first error&gt;</c>.</item>
/// <item>stdin <c>status</c> → stdout <c>status &lt;open&gt; &lt;closed by the server&gt; &lt;first reason&gt;</c>;
/// stdin <c>stop</c>, or stdin ending (the parent is gone), ends the agent and its connections.</item>
/// </list>
/// </summary>
public static class ConnectionAgent
{
    /// <summary>Most connections one agent holds.</summary>
    public const int MaxConnections = 5_000;

    private sealed class IdleHandler : IFrameHandler
    {
        private int _closed;

        public int Closed => Volatile.Read(ref _closed);

        public string? FirstReason { get; private set; }

        public void OnFrame(LoadConnection connection, ref Incoming frame)
        {
        }

        public void OnClosed(LoadConnection connection)
        {
            if (connection.ClosedByClient)
                return;
            FirstReason ??= connection.CloseReason;
            Interlocked.Increment(ref _closed);
        }
    }

    public static async Task<int> RunAsync()
    {
        var header = (await Console.In.ReadLineAsync())?.Split(' ');
        if (header is not ["connect", var portText, var transportText, var heartbeatText])
        {
            await Console.Error.WriteLineAsync("expected: connect <port> <transport> <heartbeat seconds>");
            return 2;
        }
        var endpoint = new IPEndPoint(IPAddress.Loopback, int.Parse(portText, CultureInfo.InvariantCulture));
        var transport = Enum.Parse<ClientTransport>(transportText);
        var heartbeat = TimeSpan.FromSeconds(int.Parse(heartbeatText, CultureInfo.InvariantCulture));
        var handler = new IdleHandler();
        var plans = new List<ConnectionPlan>();
        while (await Console.In.ReadLineAsync() is { } line && line != "go")
        {
            var parts = line.Split(' ');
            plans.Add(new ConnectionPlan(new Account(long.Parse(parts[0], CultureInfo.InvariantCulture), parts[1]), parts[2] == "-" ? null : parts[2], handler));
        }
        if (plans.Count > MaxConnections)
        {
            await Console.Error.WriteLineAsync($"at most {MaxConnections} connections per agent");
            return 2;
        }

        var connections = new LoadConnection?[plans.Count];
        var ok = 0;
        var failed = 0;
        string? firstError = null;
        await Parallel.ForAsync(0, plans.Count, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            try
            {
                var connection = await LoadConnection.OpenAsync(endpoint, transport, handler, ct);
                connections[i] = connection;
                await connection.HandshakeAsync(plans[i].Account.Id, plans[i].Account.Token, plans[i].DeviceId, Connector.HandshakeTimeout, ct);
                if (Interlocked.Increment(ref ok) % 500 == 0)
                    Console.WriteLine($"progress {Volatile.Read(ref ok)}");
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref failed);
                Interlocked.CompareExchange(ref firstError, ex.Message.ReplaceLineEndings(" "), null);
            }
        });
        Console.WriteLine($"ready {ok} {failed} {firstError ?? "-"}");

        using var stop = new CancellationTokenSource();
        var beating = heartbeat > TimeSpan.Zero ? HeartbeatAsync(connections, heartbeat, stop.Token) : Task.CompletedTask;
        while (await Console.In.ReadLineAsync() is { } command && command != "stop")
        {
            if (command == "status")
                Console.WriteLine($"status {connections.Count(c => c is { IsClosed: false })} {handler.Closed} {handler.FirstReason?.ReplaceLineEndings(" ") ?? "-"}");
        }
        await stop.CancelAsync();
        await beating;
        foreach (var connection in connections)
            connection?.Abort();
        return 0;
    }

    /// <summary>A heartbeat on every connection once per period, spread evenly over it.</summary>
    private static async Task HeartbeatAsync(LoadConnection?[] connections, TimeSpan every, CancellationToken cancellationToken)
    {
        var slice = every / Math.Max(1, connections.Length);
        try
        {
            while (true)
            {
                foreach (var connection in connections)
                {
                    connection?.EnqueueHeartbeat();
                    connection?.Flush();
                    if (slice >= TimeSpan.FromMilliseconds(1))
                        await Task.Delay(slice, cancellationToken);
                }
                if (slice < TimeSpan.FromMilliseconds(1))
                    await Task.Delay(every, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>A <see cref="ConnectionAgent"/> as seen from the parent.</summary>
public sealed class AgentProcess(ChildProcess process) : IAsyncDisposable
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromMinutes(15);

    public static async Task<AgentProcess> StartAsync(int index, IPEndPoint endpoint, ClientTransport transport, TimeSpan heartbeat,
        IEnumerable<(Account Account, string? DeviceId)> connections)
    {
        var agent = new AgentProcess(ToolProcess.Start($"agent {index}", "agent"));
        var input = agent.Input;
        await input.WriteLineAsync($"connect {endpoint.Port} {transport} {(int)heartbeat.TotalSeconds}");
        foreach (var (account, device) in connections)
            await input.WriteLineAsync($"{account.Id} {account.Token} {device ?? "-"}");
        await input.WriteLineAsync("go");
        await input.FlushAsync();
        return agent;
    }

    private StreamWriter Input => process.Input;

    /// <summary>Waits for the agent's <c>ready</c>: connections opened and failed, and the first error.</summary>
    public async Task<(int Ok, int Failed, string? FirstError)> ReadyAsync(Action<int> progress, CancellationToken cancellationToken)
    {
        while (true)
        {
            var line = await ToolProcess.ReadLineAsync(process, ConnectTimeout, cancellationToken);
            var parts = line.Split(' ', 4);
            if (parts[0] == "progress")
                progress(int.Parse(parts[1], CultureInfo.InvariantCulture));
            else if (parts is ["ready", var ok, var failed, var error])
                return (int.Parse(ok, CultureInfo.InvariantCulture), int.Parse(failed, CultureInfo.InvariantCulture), error == "-" ? null : error);
            else
                throw new InvalidOperationException($"{process.Name} said '{line}'");
        }
    }

    /// <summary>Connections still open, and those the server closed (with the first reason).</summary>
    public async Task<(int Open, int Closed, string? FirstReason)> StatusAsync(CancellationToken cancellationToken)
    {
        await Input.WriteLineAsync("status");
        await Input.FlushAsync(cancellationToken);
        var line = await ToolProcess.ReadLineAsync(process, TimeSpan.FromSeconds(30), cancellationToken);
        if (line.Split(' ', 4) is not ["status", var open, var closed, var reason])
            throw new InvalidOperationException($"{process.Name} said '{line}'");
        return (int.Parse(open, CultureInfo.InvariantCulture), int.Parse(closed, CultureInfo.InvariantCulture), reason == "-" ? null : reason);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Input.WriteLineAsync("stop");
            await Input.FlushAsync();
        }
        catch (IOException)
        {
        }
        await process.DisposeAsync();
    }
}
