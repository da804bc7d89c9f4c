namespace EasyIm.Contracts.Friends;

/// <summary>Who may invite to a group: its <c>invite_policy</c>, as the HTTP API and the bus spell it.</summary>
public static class GroupInvitePolicies
{
    /// <summary>Every member may invite their friends (easyim's rule).</summary>
    public const string Members = "members";
    /// <summary>Only the owner (and the admins, once groups have them) may invite.</summary>
    public const string Admins = "admins";

    public static bool IsKnown(string? policy) => policy is Members or Admins;
}
