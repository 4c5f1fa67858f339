package dev.ember.cli;

/** A problem with the command's input (a malformed line, an unreadable file): exit code 2. */
final class BadInputException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadInputException(String message) {
        super(message);
    }
}
