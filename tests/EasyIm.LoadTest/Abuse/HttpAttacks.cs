using System.Globalization;
using System.Net;
using EasyIm.LoadTest.Targets;

namespace EasyIm.LoadTest.Abuse;

/// <summary>
/// Password guessing from one address: wrong passwords against one account, and logins to accounts
/// that do not exist (which must cost the server what a real one does), in turn. After the flood the
/// account's owner logs in with the right password from an address of their own; its answer is reported.
/// </summary>
public sealed class LoginFloodAttack() : Attack(AttackKind.LoginFlood)
{
    public const double PerSecond = 40;
    public const int MaxInFlight = 32;

    private string _victim = "";
    private IPAddress _address = IPAddress.Loopback;

    public override string Description =>
        $"from {_address}: {PerSecond:F0} logins/s, in turn a wrong password for one account and an account that does not exist " +
        $"(at most {MaxInFlight} awaiting an answer); then the account's right password from another address";

    public override string Unit => "login attempts";

    public override async Task PrepareAsync(AttackContext context, CancellationToken cancellationToken)
    {
        _victim = context.AccountName("victim");
        await context.RegisterAsync(_victim, cancellationToken);
        _address = context.Addresses.Next();
    }

    public override async Task RunAsync(AttackContext context, long until, CancellationToken cancellationToken)
    {
        using (var attacker = new EasyImApi(context.Api, _address))
        {
            await HttpFloodAsync(PerSecond, MaxInFlight, until, (n, ct) => n % 2 == 0
                ? attacker.TryLoginAsync(_victim, "wrong-pass-" + n.ToString(CultureInfo.InvariantCulture), ct)
                : attacker.TryLoginAsync($"u{context.RunId}_{n}", "wrong-pass-1", ct), cancellationToken);
        }
        using var owner = new EasyImApi(context.Api, context.Addresses.Next());
        var (status, message) = await owner.TryLoginAsync(_victim, EasyImApi.Password, cancellationToken);
        Tally.Note($"the account's owner, right password, after the flood: {(status == 0 ? "no answer" : $"HTTP {(int)status}")} ({message})");
    }
}

/// <summary>New accounts from one address, as fast as a script makes them.</summary>
public sealed class RegistrationFloodAttack() : Attack(AttackKind.RegistrationFlood)
{
    public const double PerSecond = 20;
    public const int MaxInFlight = 32;

    private IPAddress _address = IPAddress.Loopback;

    public override string Description => $"from {_address}: {PerSecond:F0} registrations/s of new accounts (at most {MaxInFlight} awaiting an answer)";

    public override string Unit => "registrations";

    public override Task PrepareAsync(AttackContext context, CancellationToken cancellationToken)
    {
        _address = context.Addresses.Next();
        return Task.CompletedTask;
    }

    public override async Task RunAsync(AttackContext context, long until, CancellationToken cancellationToken)
    {
        using var attacker = new EasyImApi(context.Api, _address);
        await HttpFloodAsync(PerSecond, MaxInFlight, until,
            (n, ct) => attacker.TryRegisterAsync($"r{context.RunId}_{n}", "flood-pass-1", ct), cancellationToken);
    }
}
