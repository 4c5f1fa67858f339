package dev.ember;

import dev.ember.internal.EmberLib;

/**
 * Intermediate outputs of particular architectures, for checking a model against a reference
 * implementation ({@link Embedder#intermediate}).
 */
public enum Intermediate {
    /** NV-Embed: every token's row after the latent-attention block, before the masked mean (tokens x hidden). */
    LATENT_OUTPUT(EmberLib.EMBER_INTERMEDIATE_LATENT_OUTPUT),
    /** Causal2Vec: the contextual token as inserted into the decoder, after the projector (1 x hidden). */
    CONTEXTUAL_TOKEN(EmberLib.EMBER_INTERMEDIATE_CONTEXTUAL_TOKEN),
    /** Causal2Vec: the encoder's last hidden state (encoder tokens x encoder hidden). */
    ENCODER_HIDDEN(EmberLib.EMBER_INTERMEDIATE_ENCODER_HIDDEN);

    final int code;

    Intermediate(int code) {
        this.code = code;
    }
}
