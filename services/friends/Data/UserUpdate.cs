namespace EasyIm.Friends.Data;

/// <summary>
/// One event of a user's update stream (FRIEND_INVITE, FRIEND_AGREE, FRIEND_REMOVE, GROUP_JOIN, GROUP_LEAVE), stored in the
/// transaction of the change that caused it, at the user's next position: what a client that was offline, or whose
/// push was lost, fetches by "everything after position P".
/// </summary>
public sealed class UserUpdate
{
    public long UserId { get; set; }
    /// <summary>1, 2, 3, ... per user, without gaps: a client that sees position n+2 after n knows it missed one.</summary>
    public long Position { get; set; }
    public long FromUserId { get; set; }
    /// <summary>
    /// The event, typed (<see cref="EasyIm.Contracts.Gateway.ClientEventJson"/>), its position included; rows of the
    /// first release of the stream hold the client's content instead, and are sent as they are.
    /// </summary>
    public required string Content { get; set; }
    public long CreatedAtMs { get; set; }
}

/// <summary>A user's last stream position; a concurrency token, so two changes racing for one user never take the same position.</summary>
public sealed class UserUpdateHead
{
    public long UserId { get; set; }
    public long Last { get; set; }
}
