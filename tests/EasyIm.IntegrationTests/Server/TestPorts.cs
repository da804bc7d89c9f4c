using System.Net;
using System.Net.Sockets;

namespace EasyIm.IntegrationTests.Server;

/// <summary>
/// Ports for servers a test starts. Not the OS's pick of a free port (port 0): that comes from the ephemeral range, which
/// every outgoing connection on the machine (to RabbitMQ, PostgreSQL, the servers under test) also draws its local port
/// from, so between the pick and the server's bind another socket could take it ("address already in use", seen in CI).
/// These come from below that range, at random, checked free by binding, and never handed out twice by this process.
/// </summary>
public static class TestPorts
{
    private const int Lowest = 20_000;
    private static readonly HashSet<int> Given = [];
    private static readonly int Below = EphemeralStart();

    public static int Free()
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Random.Shared.Next(Lowest, Below);
            lock (Given)
            {
                if (Given.Contains(port))
                    continue;
            }
            if (!CanBind(port))
                continue;
            lock (Given)
            {
                if (Given.Add(port))
                    return port;
            }
        }
        throw new InvalidOperationException($"no free port from {Lowest} to {Below - 1} after 1,000 tries");
    }

    private static bool CanBind(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first port of the OS's ephemeral range (Linux: ip_local_port_range), 32768 if unknown.</summary>
    private static int EphemeralStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.TryParse(range[0], out var start) && start > Lowest + 1000 ? start : 32_768;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 32_768;
        }
    }
}
