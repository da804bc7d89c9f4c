namespace EasyIm.Friends.Data;

public static class GroupRoles
{
    public const string Owner = "owner";
    public const string Member = "member";

    /// <summary>
    /// Whether the role may do what a group's admins may (invite under <see cref="GroupInvitePolicy.Admins"/>,
    /// change its settings where the owner allows): today only the owner, as groups have no admin role yet.
    /// </summary>
    public static bool IsAdmin(string role) => role == Owner;
}

public sealed class GroupMember
{
    public long GroupId { get; set; }
    public long UserId { get; set; }
    /// <summary><see cref="GroupRoles.Owner"/> or <see cref="GroupRoles.Member"/>.</summary>
    public required string Role { get; set; }
    public long JoinedAtMs { get; set; }
    /// <summary>The bus message id of the create or invite that added the member, so a redelivery re-announces exactly those.</summary>
    public Guid? AddedByCommandId { get; set; }
}
