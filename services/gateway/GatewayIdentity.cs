using System.Text.RegularExpressions;
using EasyIm.Hosting;

namespace EasyIm.Gateway;

/// <summary>
/// Who this gateway process is on the bus. Services route a user's deliveries to the gateways
/// holding its connections by this id, so it must differ between gateways: from
/// <c>Gateway:InstanceId</c>, else random per process.
/// </summary>
public sealed partial class GatewayIdentity
{
    public GatewayIdentity(string? configured)
    {
        if (string.IsNullOrWhiteSpace(configured))
        {
            Id = Guid.NewGuid().ToString("N")[..12];
        }
        else if (!IdPattern().IsMatch(configured))
        {
            throw new StartupException(
                $"Gateway:InstanceId must be 1-64 letters, digits, '-', '_' or '.', not '{configured}' (it names the queue gateway-<id>).");
        }
        else
        {
            Id = configured;
        }
    }

    public string Id { get; }

    /// <summary>The receive endpoint (queue) of this gateway: pushes for its users, revocations.</summary>
    public string EndpointName => "gateway-" + Id;

    /// <summary>A connection id unique across gateways.</summary>
    public string ConnectionId(string local) => Id + ":" + local;

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")]
    private static partial Regex IdPattern();
}
